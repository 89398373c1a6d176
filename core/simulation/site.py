"""A seeded, vectorised simulator of a BLE site: gateways, zones, walls, assets and their observations.

Physics per advertisement and gateway: `RSSI = A_g + tx_tag − 10·n_g·log10(d) − walls crossed × wall_loss
+ shadowing + fading`, where shadowing is a slowly varying (AR(1)) error per tag–gateway link — it is what
makes real RSSI biased for seconds at a time — and fading is independent per sample. Packets below the
gateway sensitivity or randomly dropped are not reported. Each gateway's true A and n differ a little from the
nominal values the estimator is told (`gateway_rows()`), as in any real deployment.

Scenario (all seeded): most assets move between zones at walking pace and dwell there, some stay parked,
one is carried off site partway through (stops being heard), batteries drain (one runs low), one gateway
goes down. `run(duration_s)` returns observations plus ground truth per tag per advertisement tick; `step`
continues a stateful run for streaming use (`assettag simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True, slots=True, eq=False)
class Observations:
    """Columns of simulated observations, in time order."""

    ts: np.ndarray  # epoch seconds
    tag_id: np.ndarray  # str
    gateway_id: np.ndarray  # str
    rssi: np.ndarray  # int dBm
    battery: np.ndarray  # int %

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, slots=True, eq=False)
class GroundTruth:
    """True position of every tag at every advertisement tick (`on_site` False once carried off)."""

    ts: np.ndarray
    tag_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    on_site: np.ndarray

    def at(self, tag_id: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True x, y of the given tags at the given times (linear interpolation between ticks)."""
        tag_id, ts = np.asarray(tag_id), np.asarray(ts, dtype=float)
        x, y = np.full(len(ts), np.nan), np.full(len(ts), np.nan)
        for tag in np.unique(tag_id):
            mine = self.tag_id == tag
            rows = tag_id == tag
            x[rows] = np.interp(ts[rows], self.ts[mine], self.x[mine])
            y[rows] = np.interp(ts[rows], self.ts[mine], self.y[mine])
        return x, y


@dataclass(frozen=True, slots=True)
class SimulationEvents:
    gateway_down_id: str
    gateway_down_at: float
    carried_off_tag: str
    carried_off_at: float
    low_battery_tag: str


@dataclass(frozen=True, slots=True)
class SimulationRun:
    observations: Observations
    truth: GroundTruth
    events: SimulationEvents


@dataclass(slots=True)
class SiteSimulator:
    """`SiteSimulator(seed=1).run(600)` → 10 minutes of observations with ground truth."""

    seed: int = 0
    n_assets: int = 40
    width_m: float = 60.0
    depth_m: float = 40.0
    gateway_spacing_m: float = 12.0
    advert_hz: float = 2.0
    start_ts: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    nominal_ref_rssi_1m_dbm: float = -59.0
    nominal_path_loss_exponent: float = 2.0
    gateway_height_m: float = 3.0
    tag_height_m: float = 1.0
    wall_loss_db: float = 5.0
    shadowing_sigma_db: float = 4.0
    shadowing_corr_s: float = 10.0
    fading_sigma_db: float = 3.0
    sensitivity_dbm: float = -95.0
    dropout: float = 0.1
    parked_share: float = 0.3
    walk_speed_mps: tuple[float, float] = (0.6, 1.4)
    dwell_s: tuple[float, float] = (20.0, 180.0)
    gateway_down_after_s: float = 300.0
    carried_off_after_s: float = 200.0
    # --- generated state ---
    rng: np.random.Generator = field(init=False, repr=False)
    gateway_ids: np.ndarray = field(init=False)
    gateway_xy: np.ndarray = field(init=False)
    true_ref_rssi_1m_dbm: np.ndarray = field(init=False)
    true_path_loss_exponent: np.ndarray = field(init=False)
    zones: dict[str, list[Point]] = field(init=False)
    walls: list[tuple[Point, Point]] = field(init=False)
    tag_ids: np.ndarray = field(init=False)
    events: SimulationEvents = field(init=False)
    _now: float = field(init=False)
    _pos: np.ndarray = field(init=False)
    _target: np.ndarray = field(init=False)
    _speed: np.ndarray = field(init=False)
    _dwell_until: np.ndarray = field(init=False)
    _parked: np.ndarray = field(init=False)
    _on_site: np.ndarray = field(init=False)
    _tx_db: np.ndarray = field(init=False)
    _battery: np.ndarray = field(init=False)
    _drain_per_s: np.ndarray = field(init=False)
    _shadow: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = self.rng = np.random.default_rng(self.seed)
        w, d = self.width_m, self.depth_m
        # Installers cover the perimeter: outer gateways ~3 m from the walls, the rest evenly in between.
        gx = np.linspace(3.0, w - 3.0, max(2, int(np.ceil((w - 6.0) / self.gateway_spacing_m)) + 1))
        gy = np.linspace(3.0, d - 3.0, max(2, int(np.ceil((d - 6.0) / self.gateway_spacing_m)) + 1))
        grid = np.array([(x, y) for y in gy for x in gx], dtype=float)
        self.gateway_xy = grid + rng.normal(0, 0.5, grid.shape)
        n_gw = len(grid)
        self.gateway_ids = np.array([f"GW-{i + 1:02d}" for i in range(n_gw)], dtype=object)
        self.true_ref_rssi_1m_dbm = self.nominal_ref_rssi_1m_dbm + rng.normal(0, 2.0, n_gw)
        self.true_path_loss_exponent = np.clip(
            self.nominal_path_loss_exponent + rng.normal(0.2, 0.2, n_gw), 1.6, 3.5
        )
        self.zones = {
            "dock": [(0.0, 0.0), (0.25 * w, 0.0), (0.25 * w, 0.3 * d), (0.0, 0.3 * d)],
            "storage": [(0.35 * w, 0.0), (w, 0.0), (w, 0.6 * d), (0.35 * w, 0.6 * d)],
            "workshop": [(0.0, 0.5 * d), (0.3 * w, 0.5 * d), (0.3 * w, d), (0.0, d)],
            "office": [(0.65 * w, 0.75 * d), (w, 0.75 * d), (w, d), (0.65 * w, d)],
        }
        # Workshop and office walls, each with a door gap: RF crossing them loses `wall_loss_db`.
        self.walls = [
            ((0.0, 0.5 * d), (0.2 * w, 0.5 * d)),
            ((0.3 * w, 0.6 * d), (0.3 * w, d)),
            ((0.65 * w, 0.75 * d), (0.9 * w, 0.75 * d)),
            ((0.65 * w, 0.85 * d), (0.65 * w, d)),
        ]
        n = self.n_assets
        self.tag_ids = np.array([f"AC23{i:08X}" for i in range(n)], dtype=object)
        self._now = self.start_ts
        self._pos = self._random_zone_points(n)
        self._target = self._pos.copy()
        self._speed = rng.uniform(*self.walk_speed_mps, n)
        self._dwell_until = self._now + rng.uniform(0, self.dwell_s[1], n)
        self._parked = np.zeros(n, dtype=bool)  # an exact share, so small sites still have parked assets
        self._parked[rng.permutation(n)[: int(round(self.parked_share * n))]] = True
        self._on_site = np.ones(n, dtype=bool)
        self._tx_db = rng.normal(0, 2.0, n)
        self._battery = rng.uniform(40, 100, n)
        self._drain_per_s = rng.uniform(0.5, 2.0, n) / 86_400.0  # 0.5–2 % a day
        low = int(rng.integers(n))
        self._battery[low], self._drain_per_s[low] = 20.9, 6.0 / 3600.0  # crosses 20 % after ~9 minutes
        self._shadow = rng.normal(0, self.shadowing_sigma_db, (n, n_gw))
        movers = np.flatnonzero(~self._parked)
        carried = int(movers[rng.integers(len(movers))]) if len(movers) else 0
        self._parked[carried] = False
        self.events = SimulationEvents(
            gateway_down_id=str(self.gateway_ids[int(rng.integers(n_gw))]),
            gateway_down_at=self.start_ts + self.gateway_down_after_s,
            carried_off_tag=str(self.tag_ids[carried]),
            carried_off_at=self.start_ts + self.carried_off_after_s,
            low_battery_tag=str(self.tag_ids[low]),
        )

    # --- layout ----------------------------------------------------------------------------------
    def gateway_rows(self) -> list[dict[str, object]]:
        """Gateways as the operator knows them: surveyed positions, nominal path-loss values, the datasheet's
        sensitivity."""
        return [
            {
                "gateway_id": str(g),
                "x": float(x),
                "y": float(y),
                "z": self.gateway_height_m,
                "floor": 0,
                "sensitivity_dbm": self.sensitivity_dbm,
            }
            for g, (x, y) in zip(self.gateway_ids, self.gateway_xy, strict=True)
        ]

    def bounds(self) -> tuple[float, float, float, float]:
        return (0.0, 0.0, self.width_m, self.depth_m)

    def _random_zone_points(self, n: int) -> np.ndarray:
        boxes = np.array(
            [
                [
                    min(p[0] for p in poly),
                    min(p[1] for p in poly),
                    max(p[0] for p in poly),
                    max(p[1] for p in poly),
                ]
                for poly in self.zones.values()
            ]
        )
        pick = boxes[self.rng.integers(len(boxes), size=n)]
        u = self.rng.random((n, 2))
        margin = 1.0
        return np.stack(
            [
                pick[:, 0] + margin + u[:, 0] * (pick[:, 2] - pick[:, 0] - 2 * margin),
                pick[:, 1] + margin + u[:, 1] * (pick[:, 3] - pick[:, 1] - 2 * margin),
            ],
            axis=1,
        )

    # --- motion ----------------------------------------------------------------------------------
    def _move(self, dt: float) -> None:
        rng, now = self.rng, self._now
        carried = self.tag_ids == self.events.carried_off_tag
        if now >= self.events.carried_off_at:
            self._target[carried] = (self.width_m + 30.0, self.depth_m / 2)  # out through the side gate
            self._dwell_until[carried] = now
        mobile = ~self._parked & self._on_site
        leave = mobile & (now >= self._dwell_until) & np.all(self._pos == self._target, axis=1)
        if leave.any():
            self._target[leave] = self._random_zone_points(int(leave.sum()))
        delta = self._target - self._pos
        dist = np.hypot(delta[:, 0], delta[:, 1])
        step = np.minimum(dist, self._speed * dt)
        moving = mobile & (dist > 0) & (now >= self._dwell_until)
        factor = np.where(moving, step / np.maximum(dist, 1e-9), 0.0)
        self._pos = self._pos + delta * factor[:, None]
        arrived = moving & (step >= dist)
        self._pos[arrived] = self._target[arrived]
        self._dwell_until[arrived] = now + rng.uniform(*self.dwell_s, int(arrived.sum()))
        self._on_site &= ~(carried & (self._pos[:, 0] > self.width_m + 20.0))
        self._battery = np.maximum(self._battery - self._drain_per_s * dt, 0.0)

    def _walls_crossed(self, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """(N, G) count of walls between each tag and gateway (segment intersection, all pairs at once)."""
        px, py = self._pos[:, 0:1], self._pos[:, 1:2]
        total = np.zeros((len(px), len(gx)))
        for (ax, ay), (bx, by) in self.walls:

            def side(x1, y1, x2, y2, x3, y3):  # type: ignore[no-untyped-def]
                return np.sign((x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1))

            crosses = (side(ax, ay, bx, by, px, py) != side(ax, ay, bx, by, gx, gy)) & (
                side(px, py, gx, gy, ax, ay) != side(px, py, gx, gy, bx, by)
            )
            total += crosses
        return total

    def step(self, duration_s: float) -> tuple[Observations, GroundTruth]:
        """Advance the site by `duration_s`, one advertisement tick at a time; return what gateways heard."""
        rng = self.rng
        tick = 1.0 / self.advert_hz
        n, n_gw = self.n_assets, len(self.gateway_ids)
        gx, gy = self.gateway_xy[:, 0], self.gateway_xy[:, 1]
        dz2 = (self.gateway_height_m - self.tag_height_m) ** 2
        rho = np.exp(-tick / self.shadowing_corr_s)
        obs: list[tuple[np.ndarray, ...]] = []
        truth: list[tuple[np.ndarray, ...]] = []
        for _ in range(int(round(duration_s * self.advert_hz))):
            self._now += tick
            self._move(tick)
            self._shadow = rho * self._shadow + np.sqrt(1 - rho**2) * rng.normal(
                0, self.shadowing_sigma_db, (n, n_gw)
            )
            dist = np.sqrt((self._pos[:, 0:1] - gx) ** 2 + (self._pos[:, 1:2] - gy) ** 2 + dz2)
            rssi = (
                self.true_ref_rssi_1m_dbm
                + self._tx_db[:, None]
                - 10.0 * self.true_path_loss_exponent * np.log10(np.maximum(dist, 0.1))
                - self.wall_loss_db * self._walls_crossed(gx, gy)
                + self._shadow
                + rng.normal(0, self.fading_sigma_db, (n, n_gw))
            )
            heard = (
                (rssi > self.sensitivity_dbm)
                & (rng.random((n, n_gw)) >= self.dropout)
                & self._on_site[:, None]
            )
            if self._now >= self.events.gateway_down_at:
                heard[:, self.gateway_ids == self.events.gateway_down_id] = False
            tags, gws = np.nonzero(heard)
            jitter = rng.uniform(-0.5, 0.5, n) * tick  # tags are not synchronised
            obs.append(
                (
                    self._now + jitter[tags],
                    tags,
                    gws,
                    np.round(rssi[tags, gws]),
                    np.floor(self._battery[tags]),
                )
            )
            truth.append(
                (
                    np.full(n, self._now),
                    np.arange(n),
                    self._pos[:, 0].copy(),
                    self._pos[:, 1].copy(),
                    self._on_site.copy(),
                )
            )
        if not obs:
            empty = np.array([])
            return (
                Observations(
                    empty, empty.astype(object), empty.astype(object), empty.astype(int), empty.astype(int)
                ),
                GroundTruth(empty, empty.astype(object), empty, empty, empty.astype(bool)),
            )
        ts, tags, gws, rssi, battery = (np.concatenate(c) for c in zip(*obs, strict=True))
        order = np.argsort(ts, kind="stable")
        observations = Observations(
            ts[order],
            self.tag_ids[tags[order]],
            self.gateway_ids[gws[order]],
            rssi[order].astype(np.int64),
            battery[order].astype(np.int64),
        )
        t_ts, t_tag, t_x, t_y, t_on = (np.concatenate(c) for c in zip(*truth, strict=True))
        return observations, GroundTruth(t_ts, self.tag_ids[t_tag], t_x, t_y, t_on)

    def gateway_survey(self, duration_s: float = 60.0) -> tuple[Observations, np.ndarray, np.ndarray]:
        """Gateways hearing each other's advertisements (at the reference power): calibration data at known
        positions. Returns observations whose `tag_id` is the sending gateway, and the sender's x, y per row.
        Uses its own random stream, so a survey does not change the site's asset run."""
        rng = np.random.default_rng([self.seed, 1])
        xy, n_gw = self.gateway_xy, len(self.gateway_ids)
        sender, receiver = (v.ravel() for v in np.meshgrid(np.arange(n_gw), np.arange(n_gw), indexing="ij"))
        pair = sender != receiver
        sender, receiver = sender[pair], receiver[pair]
        dist = np.maximum(np.hypot(*(xy[sender] - xy[receiver]).T), 0.1)
        walls = np.zeros(len(sender))
        for (ax, ay), (bx, by) in self.walls:

            def side(x1, y1, x2, y2, x3, y3):  # type: ignore[no-untyped-def]
                return np.sign((x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1))

            sx, sy, rx, ry = xy[sender, 0], xy[sender, 1], xy[receiver, 0], xy[receiver, 1]
            walls += (side(ax, ay, bx, by, sx, sy) != side(ax, ay, bx, by, rx, ry)) & (
                side(sx, sy, rx, ry, ax, ay) != side(sx, sy, rx, ry, bx, by)
            )
        mean = (
            self.true_ref_rssi_1m_dbm[receiver]
            - 10.0 * self.true_path_loss_exponent[receiver] * np.log10(dist)
            - self.wall_loss_db * walls
            + rng.normal(0, self.shadowing_sigma_db, len(sender))
        )
        ticks = int(round(duration_s * self.advert_hz))
        ts = self.start_ts + np.repeat(np.arange(1, ticks + 1) / self.advert_hz, len(sender))
        rssi = np.tile(mean, ticks) + rng.normal(0, self.fading_sigma_db, ticks * len(sender))
        heard = (rssi > self.sensitivity_dbm) & (rng.random(len(rssi)) >= self.dropout)
        s_all, r_all = np.tile(sender, ticks)[heard], np.tile(receiver, ticks)[heard]
        observations = Observations(
            ts[heard],
            self.gateway_ids[s_all],
            self.gateway_ids[r_all],
            np.round(rssi[heard]).astype(np.int64),
            np.full(int(heard.sum()), 100),
        )
        return observations, xy[s_all, 0].copy(), xy[s_all, 1].copy()

    def run(self, duration_s: float) -> SimulationRun:
        observations, truth = self.step(duration_s)
        return SimulationRun(observations, truth, self.events)
