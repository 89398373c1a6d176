"""Location methods on noise-free geometry: each must return the exact position the RSSIs were made from."""

import numpy as np
import pytest

from core.positioning import (
    METHOD_NAMES,
    EstimatorConfig,
    GatewayTable,
    GatewayTableError,
    estimate_batch,
    expected_rssi,
    range_from_rssi,
)

pytestmark = pytest.mark.unit

A, N = -59.0, 2.0


def table(points, floors=None, z=None):
    rows = []
    for i, (x, y) in enumerate(points):
        row = {"gateway_id": f"G{i}", "x": x, "y": y}
        if floors is not None:
            row["floor"] = floors[i]
        if z is not None:
            row["z"] = z
        rows.append(row)
    return GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=A, default_path_loss_exponent=N)


def exact_rssi(gateways, gw_index, x, y, offset_db=0.0, tag_height_m=1.0):
    gw = np.asarray(gw_index)
    dz = np.nan_to_num(gateways.z[np.maximum(gw, 0)] - tag_height_m, nan=0.0)
    d = np.sqrt(
        (gateways.x[gw] - np.asarray(x)[:, None]) ** 2
        + (gateways.y[gw] - np.asarray(y)[:, None]) ** 2
        + dz**2
    )
    return np.where(gw >= 0, expected_rssi(d, A, N, offset_db), np.nan)


SQUARE = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]


def test_path_loss_round_trip():
    d = np.array([0.5, 1.0, 3.0, 12.0])
    assert np.allclose(range_from_rssi(expected_rssi(d, A, N), A, N), d)
    assert expected_rssi(np.array([10.0]), A, N)[0] == pytest.approx(A - 20.0)


def test_proximity_is_at_the_gateway_with_range_as_accuracy():
    gws = table(SQUARE)
    rssi = expected_rssi(np.array([[3.0]]), A, N)
    fix = estimate_batch(gws, np.array([[2]]), rssi)
    assert METHOD_NAMES[fix.method[0]] == "proximity"
    assert (fix.x[0], fix.y[0]) == (10.0, 10.0)
    assert 3.0 <= fix.accuracy_m[0] <= 4.5


def test_midpoint_splits_the_segment_in_the_ratio_of_ranges():
    gws = table(SQUARE)
    gw = np.array([[0, 1]])
    fix = estimate_batch(gws, gw, exact_rssi(gws, gw, [3.0], [0.0]))
    assert METHOD_NAMES[fix.method[0]] == "midpoint"
    assert fix.x[0] == pytest.approx(3.0, abs=1e-5)
    assert fix.y[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n_gateways", [3, 4])
def test_trilateration_is_exact_on_noise_free_ranges(n_gateways):
    gws = table(SQUARE)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(1, 9, 200), rng.uniform(1, 9, 200)
    gw = np.tile(np.arange(n_gateways), (200, 1))
    fix = estimate_batch(gws, gw, exact_rssi(gws, gw, x, y), config=EstimatorConfig(iterations=30))
    assert set(fix.method_names) == {"trilateration"}
    assert np.max(np.hypot(fix.x - x, fix.y - y)) < 1e-3
    assert np.allclose(fix.tx_offset_db, 0.0, atol=1e-3)


def test_unknown_tag_power_is_estimated_from_rssi_differences():
    gws = table(SQUARE + [(5.0, -2.0), (12.0, 5.0)])
    x, y = np.array([2.0, 7.5, 4.0]), np.array([3.0, 6.0, 8.5])
    gw = np.tile(np.arange(6), (3, 1))
    hot = exact_rssi(gws, gw, x, y, offset_db=12.0)  # the tag transmits 12 dB above the reference
    fix = estimate_batch(gws, gw, hot, tx_offset_sigma_db=100.0, config=EstimatorConfig(iterations=40))
    assert np.max(np.hypot(fix.x - x, fix.y - y)) < 0.01
    assert np.allclose(fix.tx_offset_db, 12.0, atol=0.05)


def test_gateway_heights_are_used_for_ranges():
    gws = table(SQUARE, z=3.0)
    gw = np.tile(np.arange(4), (1, 1))
    fix = estimate_batch(gws, gw, exact_rssi(gws, gw, [4.0], [6.0]), config=EstimatorConfig(iterations=30))
    assert fix.x[0] == pytest.approx(4.0, abs=1e-3) and fix.y[0] == pytest.approx(6.0, abs=1e-3)


def test_mixed_batch_with_padding_and_unheard_rows():
    gws = table(SQUARE)
    gw = np.array([[0, 1, 2, 3], [0, 1, 2, -1], [1, 3, -1, -1], [-1, -1, -1, -1]])
    x, y = np.array([2.0, 6.0, 5.0, 0.0]), np.array([2.0, 3.0, 5.0, 0.0])
    fix = estimate_batch(gws, gw, exact_rssi(gws, gw, x, y), config=EstimatorConfig(iterations=30))
    assert list(fix.gateway_count) == [4, 3, 2, 0]
    assert list(fix.method_names[:3]) == ["trilateration", "trilateration", "midpoint"]
    assert np.hypot(fix.x[:3] - x[:3], fix.y[:3] - y[:3]).max() < 1e-3
    assert np.isnan(fix.x[3]) and np.isnan(fix.accuracy_m[3])


def test_a_fix_does_not_depend_on_the_batch_it_is_estimated_in():
    """The realtime loop must reproduce a fix exactly on replay, whatever other fixes share its batch — alone,
    with a few, with many — down to the last bit (zone decisions and idempotent rows compare exact values)."""
    grid = [(float(x), float(y)) for x in range(0, 40, 8) for y in range(0, 40, 8)]
    gws = table(grid)
    rng = np.random.default_rng(5)
    n = 200
    gw = np.array([rng.choice(len(grid), 8, replace=False) for _ in range(n)])
    heard = rng.integers(1, 9, n)
    gw[np.arange(8)[None, :] >= heard[:, None]] = -1
    rssi = np.where(gw >= 0, rng.uniform(-90.0, -50.0, gw.shape), np.nan)
    box = (0.0, 0.0, 32.0, 32.0)
    whole = estimate_batch(gws, gw, rssi, bounds=box)
    for rows in [np.array([i]) for i in range(0, n, 7)] + [np.sort(rng.choice(n, 13, replace=False))]:
        part = estimate_batch(gws, gw[rows], rssi[rows], bounds=box)
        assert np.array_equal(part.x, whole.x[rows]) and np.array_equal(part.y, whole.y[rows])
        assert np.array_equal(part.accuracy_m, whole.accuracy_m[rows])


def test_solutions_stay_inside_the_site_bounds():
    gws = table(SQUARE)
    gw = np.tile(np.arange(4), (50, 1))
    rng = np.random.default_rng(2)
    rssi = rng.uniform(-100, -30, (50, 4))  # inconsistent nonsense
    fix = estimate_batch(gws, gw, rssi, bounds=(0.0, 0.0, 10.0, 10.0))
    assert np.all((fix.x >= 0) & (fix.x <= 10) & (fix.y >= 0) & (fix.y <= 10))
    assert np.all(np.isfinite(fix.accuracy_m)) and np.all((fix.confidence >= 0) & (fix.confidence <= 1))


def test_floor_is_chosen_before_positioning():
    points = SQUARE + SQUARE
    gws = table(points, floors=[0, 0, 0, 0, 1, 1, 1, 1])
    gw = np.array([[0, 1, 2, 3, 4, 5, 6, 7]])
    rssi = exact_rssi(gws, gw, [3.0], [4.0])
    rssi[:, :4] -= 25.0  # the slab between floors costs ~25 dB
    fix = estimate_batch(gws, gw, rssi, config=EstimatorConfig(iterations=30))
    assert fix.floor[0] == 1
    assert fix.gateway_count[0] == 4
    assert fix.x[0] == pytest.approx(3.0, abs=1e-3) and fix.y[0] == pytest.approx(4.0, abs=1e-3)


def test_accuracy_grows_with_noise_disagreement():
    gws = table(SQUARE + [(5.0, 12.0)])
    gw = np.tile(np.arange(5), (2, 1))
    rssi = exact_rssi(gws, gw, [5.0, 5.0], [5.0, 5.0])
    rssi[1] += np.array([8.0, -8.0, 8.0, -8.0, 0.0])
    fix = estimate_batch(gws, gw, rssi)
    assert fix.accuracy_m[1] > fix.accuracy_m[0]
    assert fix.confidence[1] < fix.confidence[0]


def test_gateway_rows_with_bad_fields_name_the_problem():
    with pytest.raises(GatewayTableError, match="gateway 'G1': x must be a number"):
        GatewayTable.from_rows([{"gateway_id": "G1", "x": "east", "y": 1}])
    with pytest.raises(GatewayTableError, match="missing y"):
        GatewayTable.from_rows([{"gateway_id": "G1", "x": 1}])
    with pytest.raises(GatewayTableError, match="listed twice"):
        GatewayTable.from_rows([{"gateway_id": "G1", "x": 1, "y": 1}, {"gateway_id": "G1", "x": 2, "y": 1}])
    with pytest.raises(GatewayTableError, match="path_loss_exponent must be between"):
        GatewayTable.from_rows([{"gateway_id": "G1", "x": 1, "y": 1, "path_loss_exponent": 9}])
    with pytest.raises(
        GatewayTableError, match="gateway 'G1': sensitivity_dbm must be between -130 and -30 dBm"
    ):
        GatewayTable.from_rows([{"gateway_id": "G1", "x": 1, "y": 1, "sensitivity_dbm": 5}])


def test_gateway_defaults_come_from_settings_and_unknown_ids_map_to_minus_one():
    from core.settings import get_settings

    gws = GatewayTable.from_rows(
        [{"gateway_id": "G1", "x": 1, "y": 2}, {"id": "G2", "x": 3, "y": 4, "floor": 2}]
    )
    assert gws.ref_rssi_1m_dbm[0] == get_settings().ref_rssi_1m_dbm
    assert gws.path_loss_exponent[1] == get_settings().path_loss_exponent
    assert list(gws.floor) == [0, 2]
    assert list(gws.index_of(["G2", "nope", "G1"])) == [1, -1, 0]


def test_heard_mean_is_the_mean_of_a_normal_truncated_at_the_sensitivity():
    from scipy.stats import truncnorm

    from core.positioning.solver import heard_mean

    pred = np.linspace(-110.0, -70.0, 81)
    floor, fading = -92.0, 3.0
    exact = truncnorm.mean((floor - pred) / fading, np.inf, loc=pred, scale=fading)
    mean, slope = heard_mean(pred, np.full_like(pred, floor), np.full_like(pred, fading))
    assert np.abs(mean - exact).max() < 0.03  # dB
    numeric = np.gradient(exact, pred)
    assert np.abs(slope - numeric).max() < 0.05
    assert slope[0] < 0.1 and slope[-1] > 0.999  # far below the floor a gateway says "far", not how far


def test_a_gateway_heard_only_at_its_sensitivity_does_not_pull_the_fix_towards_it():
    """A tag far from most gateways: they report only the samples that faded above their sensitivity, so their
    means read loud. Told the gateways' sensitivity, the solve stays unbiased; assuming none, it is pulled in."""
    rng = np.random.default_rng(3)
    points = [(x, y) for x in (0.0, 15.0, 30.0, 45.0) for y in (0.0, 15.0, 30.0)]
    floor, fading, samples, true_x, true_y = -88.0, 3.0, 6, 5.0, 5.0
    rows = [
        {"gateway_id": f"G{i}", "x": x, "y": y, "sensitivity_dbm": floor} for i, (x, y) in enumerate(points)
    ]
    known = GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=A, default_path_loss_exponent=N)
    gw = np.tile(np.arange(len(points)), (300, 1))
    mean_rssi = exact_rssi(known, gw, np.full(300, true_x), np.full(300, true_y))
    draws = mean_rssi[..., None] + rng.normal(0.0, fading, (*gw.shape, samples))
    heard = draws > floor
    count = heard.sum(axis=2)
    rssi = np.where(count > 0, np.where(heard, draws, 0.0).sum(axis=2) / np.maximum(count, 1), np.nan)
    gw = np.where(count > 0, gw, -1)
    config = EstimatorConfig(censoring_fading_sigma_db=fading)
    told = estimate_batch(known, gw, rssi, sample_count=count, config=config)
    unknown = GatewayTable.from_rows(
        [{**row, "sensitivity_dbm": None} for row in rows],
        default_ref_rssi_1m_dbm=A,
        default_path_loss_exponent=N,
    )
    untold = estimate_batch(
        unknown, gw, rssi, sample_count=count, config=EstimatorConfig(sensitivity_dbm=-130.0)
    )
    bias_told = np.hypot(np.median(told.x) - true_x, np.median(told.y) - true_y)
    bias_untold = np.hypot(np.median(untold.x) - true_x, np.median(untold.y) - true_y)
    assert bias_untold > 0.5  # the loud weak gateways pull the fix towards the middle of the site (0.75 m)
    assert bias_told < 0.15  # 0.02 m


def test_a_sensitivity_set_too_high_does_not_push_the_fix_away():
    """Gateways configured as deaf below -80 dBm that report down to -84: their means prove they hear deeper, and
    the solve does not expect each of them to read above -80 (which pushed the tag away from them)."""
    points = [(0.0, 0.0), (20.0, 0.0), (0.0, 20.0), (20.0, 20.0)]
    rows = [
        {"gateway_id": f"G{i}", "x": x, "y": y, "sensitivity_dbm": -80.0} for i, (x, y) in enumerate(points)
    ]
    gws = GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=A, default_path_loss_exponent=N)
    gw = np.array([[0, 1, 2, 3]])
    x, y = [6.0], [8.0]
    fix = estimate_batch(gws, gw, exact_rssi(gws, gw, x, y), config=EstimatorConfig(iterations=30))
    assert exact_rssi(gws, gw, x, y).min() < -80.0  # the far gateway reports below its stated sensitivity
    # 1.1 m off; taking -80 dBm at its word put the fix at the site's edge, 7 m off
    assert np.hypot(fix.x[0] - x[0], fix.y[0] - y[0]) < 1.5
