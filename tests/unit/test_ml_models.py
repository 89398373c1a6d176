"""core.ml: training data checks, the model file format, the pyfunc input/output, the gate and drift rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core.ml.dataset import CalibrationData, TrainingDataError, windows_with_truth
from core.ml.drift import drift_report
from core.ml.evaluation import Evaluation, evaluate
from core.ml.gate import promotion_gate
from core.ml.location_model import LocationModel, ModelFileError
from core.ml.pyfunc_flavor import LocationPyfunc, ModelInputError, _load_pyfunc, windows_frame
from core.ml.training import TrainingConfig, train_location_model
from core.positioning.datasets import load_anchors, load_samples
from core.positioning.gateways import GatewayTable

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[1] / "data" / "kolakowski-flat"


@pytest.fixture(scope="module")
def gateways() -> GatewayTable:
    return GatewayTable.from_rows(
        load_anchors(DATA / "anchors.csv"), default_ref_rssi_1m_dbm=-59.0, default_path_loss_exponent=2.0
    )


@pytest.fixture(scope="module")
def calibration() -> CalibrationData:
    return CalibrationData.from_samples(load_samples(DATA / "calibration" / "calibration_df.csv"))


@pytest.fixture(scope="module")
def trained(gateways: GatewayTable, calibration: CalibrationData):  # type: ignore[no-untyped-def]
    """Trained on the first ~40 % of the calibration run (keeps the test quick), held-out blocks from it."""
    cut = np.quantile(calibration.ts_s, 0.4)
    part = calibration.take(np.flatnonzero(calibration.ts_s <= cut))
    return train_location_model(gateways, part, TrainingConfig(window_s=2.0))


def _evaluation(median: float, p90: float, fixes: int = 500) -> Evaluation:
    return Evaluation(fixes, median, median * 1.3, p90, 0.68, 1.2, 1.0)


def test_training_keeps_a_model_no_worse_than_zero_config_on_held_out_blocks(trained) -> None:  # type: ignore[no-untyped-def]
    figures = trained.evaluations
    assert set(figures) >= {"zero_config", "path_loss"}
    assert trained.evaluation.median_m <= figures["zero_config"].median_m
    assert trained.params["kind"] == trained.model.kind
    assert trained.evaluation.fixes == len(trained.heldout)


def test_model_files_round_trip_to_identical_fixes(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = trained.model.save(tmp_path / "model")
    loaded = LocationModel.load(path, version="m/3")
    assert loaded.version == "m/3" and loaded.kind == trained.model.kind
    assert evaluate(loaded, trained.heldout) == evaluate(trained.model, trained.heldout)
    (path / "location_model.npz").unlink()
    with pytest.raises(ModelFileError, match="location_model.npz: missing"):
        LocationModel.load(path)


def test_gateway_sensitivity_survives_the_model_files(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    g = trained.model.gateways
    columns = {name: getattr(g, name) for name in ("ids", "x", "y", "z", "floor", "ref_rssi_1m_dbm")}
    told = GatewayTable(
        **columns, path_loss_exponent=g.path_loss_exponent, sensitivity_dbm=np.full(len(g), -90.0)
    )
    loaded = LocationModel.load(dataclasses.replace(trained.model, gateways=told).save(tmp_path / "model"))
    assert loaded.gateways.sensitivity_dbm is not None
    assert np.array_equal(loaded.gateways.sensitivity_dbm, np.full(len(g), -90.0))


def test_estimate_remaps_the_callers_gateway_rows_by_id(trained, gateways: GatewayTable) -> None:  # type: ignore[no-untyped-def]
    w = trained.heldout.windows
    direct = trained.model.estimate(None, w.gateway, w.rssi_dbm, sample_count=w.sample_count)
    # The realtime catalog lists other gateways too, in another order.
    rows = [{"gateway_id": "other-site-gw", "x": 50.0, "y": 50.0}] + [
        {"gateway_id": g, "x": x, "y": y}
        for g, x, y in zip(gateways.ids[::-1], gateways.x[::-1], gateways.y[::-1], strict=True)
    ]
    catalog = GatewayTable.from_rows(rows, default_ref_rssi_1m_dbm=-59.0, default_path_loss_exponent=2.0)
    to_catalog = catalog.index_of(gateways.ids)
    remapped = trained.model.estimate(
        catalog, np.where(w.gateway >= 0, to_catalog[np.maximum(w.gateway, 0)], -1), w.rssi_dbm,
        sample_count=w.sample_count,
    )  # fmt: skip
    np.testing.assert_allclose(remapped.x, direct.x)
    np.testing.assert_allclose(remapped.y, direct.y)


def test_pyfunc_predicts_from_the_wide_input_and_names_missing_columns(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = trained.heldout.windows
    frame = windows_frame(trained.model, w)
    assert [c for c in frame.columns if c.startswith("rssi_")] == [
        f"rssi_{g}" for g in trained.model.gateways.ids
    ]
    pyfunc = _load_pyfunc(str(trained.model.save(tmp_path / "m")))
    out = pyfunc.predict(frame)
    direct = trained.model.estimate(None, w.gateway, w.rssi_dbm, sample_count=w.sample_count)
    np.testing.assert_allclose(out["x"].to_numpy(), direct.x)
    assert set(out.columns) == {"x", "y", "accuracy_m", "confidence", "method", "gateway_count"}
    with pytest.raises(ModelInputError, match="rssi_1"):
        LocationPyfunc(trained.model).predict({"rssi_unknown": [-60.0]})


def test_gate_promotes_only_a_better_median_without_a_worse_tail() -> None:
    champion = _evaluation(1.0, 2.0)
    assert promotion_gate(_evaluation(1.2, 2.5), None).promote  # first model for the site
    assert promotion_gate(_evaluation(0.9, 1.9), champion).promote
    refused = promotion_gate(_evaluation(1.3, 2.4), champion)
    assert not refused.promote and "does not beat" in refused.reason
    tail = promotion_gate(_evaluation(0.8, 2.6), champion)
    assert not tail.promote and "p90" in tail.reason
    assert not promotion_gate(
        _evaluation(1.0, 2.0), champion
    ).promote  # a retrain to the same figures: no churn
    assert not promotion_gate(_evaluation(0.5, 1.0, fixes=10), champion).promote  # too few held-out fixes
    assert refused.as_metrics()["gate_median_gain_m"] == pytest.approx(-0.3)


def test_drift_flags_growing_radius_lost_fingerprints_and_a_stale_serving_version() -> None:
    reference = Evaluation(500, 0.9, 1.4, 1.9, 0.7, 1.2, 1.0)
    n = 100
    healthy = drift_report(
        "s", np.full(n, 1.3), np.full(n, "fingerprint"), np.full(n, "m/2", object), reference, "m/2"
    )
    assert not healthy.degraded
    worse = drift_report(
        "s", np.full(n, 2.5), np.full(n, "trilateration"), np.full(n, "m/1", object), reference, "m/2"
    )
    assert worse.degraded and len(worse.reasons) == 3
    few = drift_report(
        "s", np.full(5, 9.0), np.full(5, "centroid"), np.full(5, None, object), reference, "m/2"
    )
    assert not few.degraded  # too few fixes to judge


def test_bad_training_rows_name_the_row_and_field(gateways: GatewayTable) -> None:
    row = {"ts": 1.0, "tag_id": "T", "gateway_id": "1", "rssi": -60, "x": 1.0, "y": 2.0}
    with pytest.raises(TrainingDataError, match="row 2: rssi must be a number"):
        CalibrationData.from_rows([row, {**row, "rssi": "loud"}])
    with pytest.raises(TrainingDataError, match="row 1: missing gateway_id"):
        CalibrationData.from_rows([{**row, "gateway_id": ""}])
    unknown = CalibrationData.from_rows([{**row, "gateway_id": "nope"}] * 3)
    with pytest.raises(TrainingDataError, match="gateway_id: none of the calibration observations"):
        windows_with_truth(unknown, gateways, window_s=2.0)
    with pytest.raises(TrainingDataError, match="window_s: must be positive"):
        TrainingConfig(window_s=0)
