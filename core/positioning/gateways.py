"""The gateways of a site as one table of numpy columns, so a batch of fixes can index them all at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.settings import Settings


class GatewayTableError(ValueError):
    """A gateway row is unusable; the message names the gateway and the field."""


def _number(row: Mapping[str, object], key: str, where: str, default: float | None = None) -> float:
    value = row.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if default is None:
            raise GatewayTableError(f"{where}: missing {key}")
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GatewayTableError(f"{where}: {key} must be a number, got {value!r}") from None
    if not np.isfinite(number):
        raise GatewayTableError(f"{where}: {key} must be finite, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, eq=False)
class GatewayTable:
    """Gateway positions (site metres) and per-gateway path-loss parameters, one entry per gateway.

    `z` is NaN when the mounting height is unknown: ranges are then horizontal (the tag is assumed level with it).
    `ref_rssi_1m_dbm` is the path-loss `A` (RSSI at 1 m from a reference 0 dB tag), `path_loss_exponent` is `n`.
    `sensitivity_dbm` is the weakest RSSI the gateway reports (its datasheet's receiver sensitivity), NaN when not
    known: the estimator then uses its configured default (`EstimatorConfig.sensitivity_dbm`).
    """

    ids: np.ndarray  # (G,) object (str)
    x: np.ndarray  # (G,) float
    y: np.ndarray
    z: np.ndarray
    floor: np.ndarray  # (G,) int
    ref_rssi_1m_dbm: np.ndarray
    path_loss_exponent: np.ndarray
    sensitivity_dbm: np.ndarray | None = None  # (G,) float; None = none known
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index.clear()
        self._index.update({str(gateway_id): i for i, gateway_id in enumerate(self.ids)})

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, object]],
        *,
        default_ref_rssi_1m_dbm: float | None = None,
        default_path_loss_exponent: float | None = None,
        default_sensitivity_dbm: float | None = None,
    ) -> GatewayTable:
        """Build from dict rows with `gateway_id` (or `id`), `x`, `y` and optional `z`, `floor`,
        `ref_rssi_1m` / `ref_rssi_1m_dbm`, `path_loss_exponent`, `sensitivity_dbm`. Missing path-loss values come
        from settings; a missing sensitivity is `default_sensitivity_dbm`, or unknown (NaN) without one."""
        if default_ref_rssi_1m_dbm is None or default_path_loss_exponent is None:
            from core.settings import get_settings

            settings = get_settings()
            default_ref_rssi_1m_dbm = (
                settings.ref_rssi_1m_dbm if default_ref_rssi_1m_dbm is None else default_ref_rssi_1m_dbm
            )
            default_path_loss_exponent = (
                settings.path_loss_exponent
                if default_path_loss_exponent is None
                else default_path_loss_exponent
            )
        ids: list[str] = []
        seen: set[str] = set()  # a set, not `in ids`: a large site has thousands of gateways
        columns: dict[str, list[float]] = {key: [] for key in ("x", "y", "z", "floor", "a", "n", "s")}
        for number, row in enumerate(rows, start=1):
            raw_id = row.get("gateway_id", row.get("id"))
            if raw_id is None or str(raw_id).strip() == "":
                raise GatewayTableError(f"gateway row {number}: missing gateway_id")
            gateway_id = str(raw_id).strip()
            where = f"gateway {gateway_id!r}"
            if gateway_id in seen:
                raise GatewayTableError(f"{where}: listed twice")
            seen.add(gateway_id)
            ids.append(gateway_id)
            columns["x"].append(_number(row, "x", where))
            columns["y"].append(_number(row, "y", where))
            columns["z"].append(_number(row, "z", where, default=float("nan")))
            floor = _number(row, "floor", where, default=0.0)
            if floor != int(floor):
                raise GatewayTableError(f"{where}: floor must be a whole number, got {row.get('floor')!r}")
            columns["floor"].append(floor)
            ref_key = "ref_rssi_1m" if "ref_rssi_1m" in row else "ref_rssi_1m_dbm"
            columns["a"].append(_number(row, ref_key, where, default=default_ref_rssi_1m_dbm))
            exponent = _number(row, "path_loss_exponent", where, default=default_path_loss_exponent)
            if not 0.5 < exponent < 6.0:
                raise GatewayTableError(
                    f"{where}: path_loss_exponent must be between 0.5 and 6, got {exponent}"
                )
            columns["n"].append(exponent)
            unknown = float("nan") if default_sensitivity_dbm is None else default_sensitivity_dbm
            sensitivity = _number(row, "sensitivity_dbm", where, default=unknown)
            if np.isfinite(sensitivity) and not -130.0 <= sensitivity <= -30.0:
                raise GatewayTableError(
                    f"{where}: sensitivity_dbm must be between -130 and -30 dBm, got {sensitivity}"
                )
            columns["s"].append(sensitivity)
        if not ids:
            raise GatewayTableError("no gateways given")
        return cls(
            ids=np.array(ids, dtype=object),
            x=np.array(columns["x"]),
            y=np.array(columns["y"]),
            z=np.array(columns["z"]),
            floor=np.array(columns["floor"], dtype=np.int64),
            ref_rssi_1m_dbm=np.array(columns["a"]),
            path_loss_exponent=np.array(columns["n"]),
            sensitivity_dbm=np.array(columns["s"]),
        )

    def index_of(self, gateway_ids: Iterable[object]) -> np.ndarray:
        """Row index per gateway id; -1 for ids not in the table (callers count and skip them)."""
        lookup = self._index
        return np.array([lookup.get(str(gateway_id), -1) for gateway_id in gateway_ids], dtype=np.int64)

    def with_path_loss(self, ref_rssi_1m_dbm: np.ndarray, path_loss_exponent: np.ndarray) -> GatewayTable:
        """The same gateways with other path-loss parameters (e.g. after calibration)."""
        return GatewayTable(
            ids=self.ids,
            x=self.x,
            y=self.y,
            z=self.z,
            floor=self.floor,
            ref_rssi_1m_dbm=np.asarray(ref_rssi_1m_dbm, dtype=float).copy(),
            path_loss_exponent=np.asarray(path_loss_exponent, dtype=float).copy(),
            sensitivity_dbm=self.sensitivity_dbm,
        )

    def bounds(self, margin_m: float = 1.0) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the gateways plus a margin: the default site box for bounded solves."""
        return (
            float(self.x.min() - margin_m),
            float(self.y.min() - margin_m),
            float(self.x.max() + margin_m),
            float(self.y.max() + margin_m),
        )


def placed_gateway_table(gateways: Iterable[Any], settings: Settings) -> GatewayTable | None:
    """The gateways placed in site metres (objects with `gateway_id`, `x`, `y`, `z`, `floor` and optional path-loss
    and sensitivity values, e.g. database rows), missing values from `settings`; None when none is placed."""
    placed = [g for g in gateways if g.x is not None and g.y is not None]
    if not placed:
        return None
    return GatewayTable.from_rows(
        [
            {
                "gateway_id": g.gateway_id,
                "x": g.x,
                "y": g.y,
                "z": g.z,
                "floor": g.floor,
                "ref_rssi_1m_dbm": g.ref_rssi_1m_dbm,
                "path_loss_exponent": g.path_loss_exponent,
                "sensitivity_dbm": g.sensitivity_dbm,
            }
            for g in placed
        ],
        default_ref_rssi_1m_dbm=settings.ref_rssi_1m_dbm,
        default_path_loss_exponent=settings.path_loss_exponent,
        default_sensitivity_dbm=settings.gateway_sensitivity_dbm,
    )
