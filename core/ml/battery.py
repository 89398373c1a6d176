"""Battery life per tag: days left from the battery history, pooled across a site's tags.

Tags of one model on one site drain at similar rates, so a tag with a short history borrows strength from the
site: its drain rate is the tag's own robust slope (Theil–Sen on daily medians, immune to the odd bad reading)
shrunk toward the site's median rate with a weight of `prior_days` days of history. Only the stretch after the
last battery replacement (a rise of more than `REPLACEMENT_JUMP_PCT`) counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPLACEMENT_JUMP_PCT = 15.0
MIN_DAYS = 3


@dataclass(frozen=True, slots=True)
class BatteryLifeModel:
    site_drain_pct_per_day: float  # positive = draining
    prior_days: float = 14.0

    def drain_rates(self, tag: np.ndarray, day: np.ndarray, level_pct: np.ndarray) -> dict[str, float]:
        """tag → drain (%/day) since its last replacement, shrunk toward the site rate."""
        rates: dict[str, float] = {}
        for name, days, levels in _histories(tag, day, level_pct):
            own, span = _own_rate(days, levels)
            weight = span / (span + self.prior_days)
            rates[name] = weight * own + (1 - weight) * self.site_drain_pct_per_day
        return rates

    def days_left(self, tag: np.ndarray, day: np.ndarray, level_pct: np.ndarray) -> dict[str, float]:
        """tag → predicted days until 0 % from its latest daily level (inf when not draining)."""
        rates = self.drain_rates(tag, day, level_pct)
        out: dict[str, float] = {}
        for name, _days, levels in _histories(tag, day, level_pct):
            rate = rates[name]
            out[name] = float(levels[-1] / rate) if rate > 1e-6 else float("inf")
        return out


def _histories(tag: np.ndarray, day: np.ndarray, level: np.ndarray):  # type: ignore[no-untyped-def]
    """Per tag: (name, days, daily median levels) since the last replacement."""
    tag, day, level = np.asarray(tag).astype(str), np.asarray(day, float), np.asarray(level, float)
    ok = np.isfinite(day) & np.isfinite(level)
    for name in np.unique(tag[ok]):
        rows = ok & (tag == name)
        days = np.unique(np.floor(day[rows]))
        medians = np.array([np.median(level[rows][np.floor(day[rows]) == d]) for d in days])
        jumps = np.flatnonzero(np.diff(medians) > REPLACEMENT_JUMP_PCT)
        start = int(jumps[-1]) + 1 if jumps.size else 0
        yield name, days[start:], medians[start:]


def _own_rate(days: np.ndarray, levels: np.ndarray) -> tuple[float, float]:
    """(drain %/day, days of history behind it); no history → (0, 0)."""
    if len(days) < 2:
        return 0.0, 0.0
    from scipy.stats import theilslopes

    slope = theilslopes(levels, days).slope
    return float(-slope), float(days[-1] - days[0])


def fit_battery_model(tag: np.ndarray, day: np.ndarray, level_pct: np.ndarray) -> BatteryLifeModel:
    """The site rate is the median drain of tags with at least MIN_DAYS days since their last replacement."""
    rates = [
        _own_rate(days, levels)[0]
        for _, days, levels in _histories(tag, day, level_pct)
        if len(days) >= MIN_DAYS
    ]
    positive = [r for r in rates if r > 0]
    if not positive:
        raise ValueError(f"battery history: no tag has {MIN_DAYS}+ days of a draining battery to learn from")
    return BatteryLifeModel(float(np.median(positive)))


def backtest_mae_pct(
    tag: np.ndarray, day: np.ndarray, level_pct: np.ndarray, horizon_days: float = 7.0
) -> float:
    """Fit on everything up to `horizon_days` before each tag's last day, predict that last day's level; the mean
    absolute error in percentage points over tags (the figure logged with the model)."""
    tag, day, level = np.asarray(tag).astype(str), np.asarray(day, float), np.asarray(level_pct, float)
    last = {name: day[tag == name].max() for name in np.unique(tag)}
    cutoff = np.array([last[t] for t in tag]) - horizon_days
    past = day <= cutoff
    model = fit_battery_model(tag[past], day[past], level[past])
    rates = model.drain_rates(tag[past], day[past], level[past])
    errors = []
    for name, days, levels in _histories(tag[past], day[past], level[past]):
        truth = np.median(level[(tag == name) & (np.floor(day) == np.floor(last[name]))])
        predicted = levels[-1] - rates[name] * (np.floor(last[name]) - days[-1])
        errors.append(abs(predicted - truth))
    return float(np.mean(errors))
