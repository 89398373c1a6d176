"""MLflow glue for location models: log a training run, register the model per site, promote through the gate.

The registered model `asset-tag-location-<site>` holds every trained version; the alias `champion` marks the
one the realtime path serves. Promotion moves the alias only when the gate says the candidate beats the current
champion on the candidate's held-out windows; otherwise the version stays registered with the comparison
logged on its run and as version tags. Roll back = `set_champion(client, site, older_version)`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.ml.evaluation import Evaluation, evaluate
from core.ml.gate import GateDecision, promotion_gate
from core.ml.location_model import LocationModel
from core.ml.pyfunc_flavor import windows_frame
from core.ml.registry_names import CHAMPION_ALIAS, EXPERIMENT_NAME, location_model_name
from core.ml.training import TrainingResult, gateway_path_loss, heldout_errors

LOADER_MODULE = "core.ml.pyfunc_flavor"
MODEL_ARTIFACT = "location_model"


@dataclass(frozen=True, slots=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str


def client_for(tracking_uri: str) -> Any:
    """An `MlflowClient` on `tracking_uri` (also made the process default so `mlflow.*` calls agree)."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _error_plot(result: TrainingResult, path: Path) -> Path:
    """Held-out error CDF per candidate: the figure a reviewer looks at before trusting a promotion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from core.ml.location_model import LocationModel as Model

    figure, axes = plt.subplots(figsize=(6, 4))
    candidates = {"zero_config": Model(result.heldout.gateways), "chosen": result.model}
    for label, model in candidates.items():
        errors = np.sort(heldout_errors(model, result.heldout))
        errors = errors[np.isfinite(errors)]
        axes.plot(errors, np.arange(1, len(errors) + 1) / len(errors), label=f"{label} ({model.kind})")
    axes.set_xlabel("error (m)")
    axes.set_ylabel("share of held-out fixes")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def log_location_model(
    tracking_uri: str,
    site_id: object,
    result: TrainingResult,
    *,
    extra_metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> RegisteredVersion:
    """Log params, metrics (held-out figures of every candidate), the error plot and the model with its
    signature and input example; register it as a new version of the site's location model."""
    import mlflow
    from mlflow.models import infer_signature

    client_for(tracking_uri)
    mlflow.set_experiment(EXPERIMENT_NAME)
    name = location_model_name(site_id)
    with mlflow.start_run(run_name=f"location-{site_id}") as run:
        mlflow.set_tags({"site_id": str(site_id), "model_kind": result.model.kind, **(tags or {})})
        mlflow.log_params(result.params)
        for kind, evaluation in result.evaluations.items():
            mlflow.log_metrics(evaluation.as_metrics(f"heldout_{kind}_"))
        mlflow.log_metrics(result.evaluation.as_metrics("heldout_"))
        mlflow.log_metrics({f"train_seconds_{key}": value for key, value in result.seconds.items()})
        if extra_metrics:
            mlflow.log_metrics(extra_metrics)
        mlflow.log_dict(gateway_path_loss(result.model), "gateway_path_loss.json")
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(_error_plot(result, Path(tmp) / "heldout_error_cdf.png")), "plots")
            model_dir = result.model.save(Path(tmp) / "model")
            example = windows_frame(result.model, result.heldout.windows, result.heldout.gateways.ids).head(5)
            from core.ml.pyfunc_flavor import LocationPyfunc

            signature = infer_signature(example, LocationPyfunc(result.model).predict(example))
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                loader_module=LOADER_MODULE,
                data_path=str(model_dir),
                signature=signature,
                input_example=example,
                registered_model_name=name,
            )
    version = str(info.registered_model_version)
    return RegisteredVersion(name, version, run.info.run_id)


def load_version(tracking_uri: str, name: str, version: str) -> LocationModel:
    import mlflow

    client_for(tracking_uri)
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").get_raw_model().with_version(version)


def champion_version(client: Any, name: str) -> str | None:
    """The version the `champion` alias points at, None when the site has none yet."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version)
    except MlflowException:
        return None


def promote_if_better(
    tracking_uri: str, candidate: RegisteredVersion, result: TrainingResult
) -> GateDecision:
    """Re-evaluate the champion on the candidate's held-out windows, apply the gate, move the alias if it passes.
    The decision is logged on the candidate's run and as tags on its model version either way."""
    client = client_for(tracking_uri)
    current = champion_version(client, candidate.name)
    champion_eval: Evaluation | None = None
    if current is not None and current != candidate.version:
        champion = load_version(tracking_uri, candidate.name, current)
        champion_eval = evaluate(champion, result.heldout)
    decision = promotion_gate(result.evaluation, champion_eval)
    for key, value in decision.as_metrics().items():
        client.log_metric(candidate.run_id, key, value)
    client.set_model_version_tag(
        candidate.name, candidate.version, "gate", "promoted" if decision.promote else "refused"
    )
    client.set_model_version_tag(candidate.name, candidate.version, "gate_reason", decision.reason)
    if current is not None:
        client.set_model_version_tag(candidate.name, candidate.version, "gate_champion_version", current)
    if decision.promote:
        client.set_registered_model_alias(candidate.name, CHAMPION_ALIAS, candidate.version)
    return decision


def set_champion(tracking_uri: str, site_id: object, version: str) -> None:
    """Point the site's champion alias at `version` (manual promotion or roll back)."""
    client_for(tracking_uri).set_registered_model_alias(
        location_model_name(site_id), CHAMPION_ALIAS, str(version)
    )


def champion_evaluation(tracking_uri: str, site_id: object) -> tuple[str, Evaluation] | None:
    """(version, held-out figures logged when the champion was trained) — the drift check's reference."""
    client = client_for(tracking_uri)
    name = location_model_name(site_id)
    version = champion_version(client, name)
    if version is None:
        return None
    run_id = client.get_model_version(name, version).run_id
    evaluation = Evaluation.from_metrics(client.get_run(run_id).data.metrics, "heldout_")
    return (version, evaluation) if evaluation is not None else None
