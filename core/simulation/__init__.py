"""Seeded site simulator: gateways, zones, walls and assets producing BLE observations with ground truth.

sim = SiteSimulator(seed=7, n_assets=100)
run = sim.run(600.0)                 # observations (ts, tag_id, gateway_id, rssi, battery) + truth per tick
gateways = GatewayTable.from_rows(sim.gateway_rows())
sim.zones                            # {"dock": [(x, y), ...], ...} — shapely.Polygon(coords) ready
more_obs, more_truth = sim.step(1.0) # continue streaming from where the run stopped
"""

from core.simulation.site import GroundTruth, Observations, SimulationEvents, SimulationRun, SiteSimulator

__all__ = ["GroundTruth", "Observations", "SimulationEvents", "SimulationRun", "SiteSimulator"]
