"""A site's trained location model: calibrated path loss per gateway plus, when trained, a fingerprint map.

It is what the registry stores and the realtime path serves. `estimate` takes the caller's own gateway table
(the realtime catalog holds every site's gateways) and re-maps rows by gateway id: a gateway added after
training is left out of the fix until the next retraining, and fixes with too few known gateways fall back to
the path-loss chain inside `estimate_batch`.

Saved as plain files (JSON + .npz), not pickles: a model file must never be able to run code on load.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.positioning.estimator import EstimatorConfig, Fixes, estimate_batch
from core.positioning.fingerprint import FingerprintModel
from core.positioning.gateways import GatewayTable

FORMAT_VERSION = 1
_META_FILE = "location_model.json"
_ARRAYS_FILE = "location_model.npz"


class ModelFileError(ValueError):
    """A saved model directory is missing a file or has an unexpected format."""


@dataclass(frozen=True, slots=True, eq=False)
class LocationModel:
    """Calibrated `gateways` (A and n fitted per site), an optional `fingerprint`, and the tag transmit-offset
    prior the calibration justifies. `version` is set by whoever loaded it from a registry (recorded on fixes)."""

    gateways: GatewayTable
    fingerprint: FingerprintModel | None = None
    tx_offset_sigma_db: float | None = None
    window_s: float = 3.0
    version: str | None = None

    @property
    def kind(self) -> str:
        return "fingerprint" if self.fingerprint is not None else "path_loss"

    def with_version(self, version: str | None) -> LocationModel:
        return dataclasses.replace(self, version=version)

    def remap(self, caller_gateway_ids: np.ndarray, gateway_index: np.ndarray) -> np.ndarray:
        """Caller's gateway row indices → this model's rows (−1 where the caller's gateway is unknown here)."""
        lookup = self.gateways.index_of(np.asarray(caller_gateway_ids, dtype=object))
        gw = np.asarray(gateway_index, dtype=np.int64)
        return np.where(gw >= 0, lookup[np.maximum(gw, 0)], -1)

    def estimate(
        self,
        caller_gateways: GatewayTable | None,
        gateway_index: np.ndarray,
        rssi_dbm: np.ndarray,
        *,
        sample_count: np.ndarray | None = None,
        bounds: tuple[float, float, float, float] | None = None,
        config: EstimatorConfig | None = None,
    ) -> Fixes:
        """`estimate_batch` with this model: same padded (F, K) inputs, indices into `caller_gateways`
        (None = indices already refer to `self.gateways`)."""
        gw = np.atleast_2d(np.asarray(gateway_index, dtype=np.int64))
        rssi = np.atleast_2d(np.asarray(rssi_dbm, dtype=float))
        if caller_gateways is not None:
            gw = self.remap(caller_gateways.ids, gw)
            rssi = np.where(gw >= 0, rssi, np.nan)
        return estimate_batch(
            self.gateways,
            gw,
            rssi,
            sample_count=sample_count,
            tx_offset_sigma_db=self.tx_offset_sigma_db,
            bounds=bounds,
            fingerprint=self.fingerprint,
            config=config,
        )

    # --- files -----------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model into `directory` (created); returns it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "gw_x": self.gateways.x,
            "gw_y": self.gateways.y,
            "gw_z": self.gateways.z,
            "gw_floor": self.gateways.floor,
            "gw_a": self.gateways.ref_rssi_1m_dbm,
            "gw_n": self.gateways.path_loss_exponent,
        }
        if self.gateways.sensitivity_dbm is not None:
            arrays["gw_sensitivity"] = self.gateways.sensitivity_dbm
        fingerprint_scalars: dict[str, object] | None = None
        if self.fingerprint is not None:
            fingerprint_scalars = {}
            for f in dataclasses.fields(self.fingerprint):
                if not f.init:  # derived when the model is built (its search plan): not saved
                    continue
                value = getattr(self.fingerprint, f.name)
                if isinstance(value, np.ndarray):
                    arrays[f"fp_{f.name}"] = value
                elif isinstance(value, int | float | str | bool) or value is None:
                    fingerprint_scalars[f.name] = value
                else:
                    raise ModelFileError(f"fingerprint.{f.name}: cannot save a {type(value).__name__}")
        meta = {
            "format_version": FORMAT_VERSION,
            "gateway_ids": [str(g) for g in self.gateways.ids],
            "tx_offset_sigma_db": self.tx_offset_sigma_db,
            "window_s": self.window_s,
            "fingerprint": fingerprint_scalars,
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=1))
        np.savez_compressed(directory / _ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
        return directory

    @classmethod
    def load(cls, directory: str | Path, version: str | None = None) -> LocationModel:
        directory = Path(directory)
        meta_path, arrays_path = directory / _META_FILE, directory / _ARRAYS_FILE
        for path in (meta_path, arrays_path):
            if not path.exists():
                raise ModelFileError(f"{path}: missing from the model directory")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{meta_path}: format_version {meta.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        gateways = GatewayTable(
            ids=np.array(meta["gateway_ids"], dtype=object),
            x=arrays["gw_x"],
            y=arrays["gw_y"],
            z=arrays["gw_z"],
            floor=arrays["gw_floor"],
            ref_rssi_1m_dbm=arrays["gw_a"],
            path_loss_exponent=arrays["gw_n"],
            sensitivity_dbm=arrays.get("gw_sensitivity"),  # models saved before it existed: none known
        )
        fingerprint = None
        if meta["fingerprint"] is not None:
            kwargs = dict(meta["fingerprint"])
            kwargs.update(
                {key.removeprefix("fp_"): value for key, value in arrays.items() if key.startswith("fp_")}
            )
            try:
                fingerprint = FingerprintModel(**kwargs)
            except TypeError as exc:
                raise ModelFileError(
                    f"{arrays_path}: fingerprint does not match this code's model ({exc})"
                ) from None
        return cls(gateways, fingerprint, meta["tx_offset_sigma_db"], float(meta["window_s"]), version)
