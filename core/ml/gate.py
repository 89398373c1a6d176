"""The promotion gate: a new model version becomes a site's champion only if it beats the current champion on the
same held-out calibration windows.

Both models are scored on the *candidate's* held-out windows (the champion is re-evaluated, not trusted from its
old metrics, which were measured on other data). "Beats" means a lower median error without a worse tail:
users forgive a slightly noisier dot far less than one that jumps to the wrong room, so p90 may not grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.ml.evaluation import Evaluation

# Too few held-out fixes and the comparison is noise: keep the champion.
MIN_HELDOUT_FIXES = 50
# Equal within measurement noise is not better: a retrain on the same data must not churn the alias.
MIN_MEDIAN_GAIN_M = 0.01
P90_TOLERANCE = 1.02


@dataclass(frozen=True, slots=True)
class GateDecision:
    promote: bool
    reason: str
    candidate: Evaluation
    champion: Evaluation | None

    def as_metrics(self) -> dict[str, float]:
        """The comparison as flat metrics for the candidate's run (logged whether or not it was promoted)."""
        metrics = {"gate_promoted": float(self.promote)}
        if self.champion is not None:
            metrics["gate_champion_median_m"] = self.champion.median_m
            metrics["gate_champion_p90_m"] = self.champion.p90_m
            metrics["gate_median_gain_m"] = self.champion.median_m - self.candidate.median_m
            metrics["gate_p90_gain_m"] = self.champion.p90_m - self.candidate.p90_m
        return metrics


def promotion_gate(candidate: Evaluation, champion: Evaluation | None) -> GateDecision:
    """Decide whether `candidate` should replace `champion` (None = the site has no champion yet)."""
    if candidate.fixes < MIN_HELDOUT_FIXES:
        return GateDecision(
            False, f"only {candidate.fixes} held-out fixes (need {MIN_HELDOUT_FIXES})", candidate, champion
        )
    if champion is None:
        return GateDecision(True, "no champion yet", candidate, champion)
    gain = champion.median_m - candidate.median_m
    if gain < MIN_MEDIAN_GAIN_M:
        return GateDecision(
            False,
            f"median {candidate.median_m:.2f} m does not beat the champion's {champion.median_m:.2f} m",
            candidate,
            champion,
        )
    if candidate.p90_m > champion.p90_m * P90_TOLERANCE:
        return GateDecision(
            False,
            f"p90 {candidate.p90_m:.2f} m is worse than the champion's {champion.p90_m:.2f} m",
            candidate,
            champion,
        )
    return GateDecision(
        True,
        f"median {champion.median_m:.2f} → {candidate.median_m:.2f} m, p90 {champion.p90_m:.2f} → "
        f"{candidate.p90_m:.2f} m",
        candidate,
        champion,
    )
