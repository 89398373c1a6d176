"""How well a parked tag can be placed at all from its beacons, on bench/zones.py's floor and radio.

Why: on that floor most of the walking tags' remaining wrong-room time (bench/zones.py) is stops a few
centimetres from a wall. This measures the limit no tracker or zone logic can beat: tags parked within 1.5 m of
a wall between rooms beacon once a second for S seconds; every sample of every gateway is pooled (its plain
mean per gateway, the sample counts behind it) and solved once, with the radio's own path-loss model, under the
transmit-offset prior known (±0.5 dB) and unknown (the zero-config ±10 dB). The tracker works from 3 s windows
and its fixes' mean; it cannot do better than this.

Usage: uv run python bench/parked_limit.py [--tags 300] [--seed 5]. Last line: one JSON object with the
median error (m) per stop length, prior known and unknown.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import zones

from core.positioning.estimator import estimate_batch

SECONDS = (5, 10, 30, 120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tags", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    _, gateways = zones.build_floor()
    radio = zones.Radio(gateways, rng, *zones.RADIOS["simulator"])
    spots = zones.stationary_positions(rng, args.tags)
    bounds = (0.0, 0.0, zones.COLS * zones.ROOM_W, zones.ROWS * zones.ROOM_H)
    n, g = len(spots), len(gateways)
    figures: dict[str, float] = {}
    for seconds in SECONDS:
        t = np.repeat(np.arange(seconds, dtype=float), n)
        tag = np.tile(np.arange(n), seconds)
        _, obs_tag, obs_gw, obs_rssi = radio.observe(t, tag, spots[tag, 0], spots[tag, 1])
        total, count = np.zeros((n, g)), np.zeros((n, g))
        np.add.at(total, (obs_tag, obs_gw), obs_rssi)
        np.add.at(count, (obs_tag, obs_gw), 1)
        heard = count > 0
        mean = np.where(heard, total / np.maximum(count, 1), np.nan)
        rows = np.where(heard, np.arange(g)[None, :], -1)
        for label, sigma in (("known", 0.5), ("unknown", 10.0)):
            fixes = estimate_batch(
                gateways,
                rows,
                mean,
                sample_count=count,
                tx_offset_db=0.0,
                tx_offset_sigma_db=sigma,
                bounds=bounds,
            )
            error = np.hypot(fixes.x - spots[:, 0], fixes.y - spots[:, 1])
            figures[f"median_m_{seconds}s_{label}"] = round(float(np.median(error)), 3)
            print(
                f"parked {seconds:>3} s, offset {label:>7}: median {np.median(error):.2f} m, "
                f"p90 {np.percentile(error, 90):.2f} m ({n} tags)"
            )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
