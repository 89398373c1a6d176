"""Drift: is a site's live fix quality still what its champion promised on held-out data?

Live fixes carry no truth, so the check uses what they do carry: the reported 68 % radius (`accuracy_m`, which
the champion's evaluation showed to be honest), the method mix (a fingerprint model that stops matching the radio
environment — moved furniture, a re-mounted gateway — shows up as fixes falling back to the path-loss chain or as
growing radii) and which model version produced the fixes (the consumer may not be serving the champion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.ml.evaluation import Evaluation

# A site degrades when its live radius grows this much over the champion's held-out mean radius...
ACCURACY_GROWTH = 1.5
# ...or when the share of fingerprint fixes falls below this fraction of the held-out share.
FINGERPRINT_SHARE_FLOOR = 0.5
MIN_LIVE_FIXES = 30


@dataclass(frozen=True, slots=True)
class DriftReport:
    site_id: str
    fixes: int
    live_median_accuracy_m: float
    reference_accuracy_m: float
    live_fingerprint_share: float
    reference_fingerprint_share: float
    champion_share: (
        float  # share of live fixes made by the champion version (NaN when fixes carry no version)
    )
    degraded: bool
    reasons: tuple[str, ...]


def drift_report(
    site_id: str,
    accuracy_m: np.ndarray,
    method: np.ndarray,
    model_version: np.ndarray,
    reference: Evaluation,
    champion_label: str | None,
) -> DriftReport:
    """Compare a site's live fixes (one entry per fix) with its champion's held-out `reference`."""
    accuracy = np.asarray(accuracy_m, float)
    ok = np.isfinite(accuracy)
    n = int(ok.sum())
    methods = np.asarray(method).astype(str)[ok]
    versions = np.asarray(model_version, dtype=object)[ok]
    live_accuracy = float(np.median(accuracy[ok])) if n else float("nan")
    fingerprint_share = float(np.mean(methods == "fingerprint")) if n else float("nan")
    if champion_label is not None and n:
        champion_share = float(np.mean(versions.astype(str) == champion_label))
    else:
        champion_share = float("nan")
    reasons: list[str] = []
    if n >= MIN_LIVE_FIXES:
        if live_accuracy > ACCURACY_GROWTH * reference.mean_accuracy_m:
            reasons.append(
                f"median accuracy_m {live_accuracy:.2f} m vs {reference.mean_accuracy_m:.2f} m at evaluation"
            )
        if (
            reference.fingerprint_share > 0
            and fingerprint_share < FINGERPRINT_SHARE_FLOOR * reference.fingerprint_share
        ):
            reasons.append(
                f"fingerprint share {fingerprint_share:.0%} vs {reference.fingerprint_share:.0%} at evaluation"
            )
        if champion_label is not None and champion_share < 0.5:
            reasons.append(f"only {champion_share:.0%} of fixes made by the champion {champion_label}")
    return DriftReport(
        site_id,
        n,
        live_accuracy,
        reference.mean_accuracy_m,
        fingerprint_share,
        reference.fingerprint_share,
        champion_share,
        bool(reasons),
        tuple(reasons),
    )
