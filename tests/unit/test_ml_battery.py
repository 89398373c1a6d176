"""Battery life: robust drain per tag, pooled with the site, reset by a battery replacement."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml.battery import backtest_mae_pct, fit_battery_model

pytestmark = pytest.mark.unit


def _history(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """10 tags draining 0.5–0.7 %/day for 40 days, 4 readings a day with ±1 % noise and one bad reading each."""
    rng = np.random.default_rng(seed)
    tags, days, levels = [], [], []
    for i in range(10):
        rate = 0.5 + 0.02 * i
        day = np.repeat(np.arange(40.0), 4) + rng.uniform(0, 0.9, 160)
        level = 95 - rate * day + rng.normal(0, 1, 160)
        level[rng.integers(160)] = 5.0  # a glitch: one absurd reading
        tags += [f"T{i}"] * 160
        days.append(day)
        levels.append(level)
    return np.array(tags), np.concatenate(days), np.concatenate(levels)


def test_days_left_follow_each_tags_drain_despite_glitches() -> None:
    tag, day, level = _history()
    model = fit_battery_model(tag, day, level)
    assert model.site_drain_pct_per_day == pytest.approx(0.59, abs=0.05)
    left = model.days_left(tag, day, level)
    # T0 drains 0.5 %/day from ~75 % → ~150 days; T9 drains 0.68 %/day from ~68 % → ~100 days.
    assert left["T0"] == pytest.approx((95 - 0.5 * 39) / 0.5, rel=0.15)
    assert left["T9"] == pytest.approx((95 - 0.68 * 39) / 0.68, rel=0.15)
    assert left["T0"] > left["T9"]


def test_a_replaced_battery_starts_a_new_history_that_borrows_the_site_rate() -> None:
    tag, day, level = _history()
    new_tag = np.array(["NEW"] * 8)
    new_day = np.array([30, 30.5, 31, 31.5, 38, 38.5, 39, 39.5])
    new_level = np.array([20, 20, 19, 19, 100, 100, 99.5, 99.5])  # replaced on day 38
    model = fit_battery_model(tag, day, level)
    left = model.days_left(np.r_[tag, new_tag], np.r_[day, new_day], np.r_[level, new_level])
    # Two days of fresh history: mostly the site rate, not the 0.5 %/day of its own two points.
    assert left["NEW"] == pytest.approx(99.5 / model.drain_rates(new_tag, new_day, new_level)["NEW"])
    assert 99.5 / 0.75 < left["NEW"] < 99.5 / 0.45


def test_backtest_error_is_small_on_steady_drain_and_no_drain_is_an_error() -> None:
    tag, day, level = _history()
    assert backtest_mae_pct(tag, day, level, horizon_days=7) < 1.5
    with pytest.raises(ValueError, match="battery history: no tag"):
        fit_battery_model(np.array(["A", "A"]), np.array([0.0, 1.0]), np.array([50.0, 50.0]))
