"""Decoding and validation of BLE observations (the `ble.observations` contract), shared by ingest and the consumer.

A message is one observation or a gateway batch (`{"gateway_id", "observations": [...]}`). Good rows come out
normalised (tag id upper-case hex without separators, ts in epoch seconds); every bad row comes out as a reason
naming the field, which the consumer sends to the DLQ and ingest returns to the gateway. Nothing raises.
"""

from __future__ import annotations

import datetime
import io
import math
from dataclasses import dataclass
from operator import attrgetter

import msgspec
import numpy as np
import polars as pl

from core.db.models.assets import normalise_tag_id
from realtime.ids import IdTable

RSSI_MIN_DBM = -127.0
RSSI_MAX_DBM = 20.0
# Epoch numbers below this are almost certainly seconds sent where milliseconds were expected.
_EPOCH_MS_FLOOR = 100_000_000_000  # 1973-03-03 in ms, 5138 AD in s


class RawObservation(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    """One observation as it arrives. `gc=False`: tens of thousands are decoded per batch and hold no cycles,
    so keeping them out of the cycle collector saves its repeated gen-0 passes over them."""

    tag_id: str
    rssi: float
    ts: datetime.datetime | int | float
    gateway_id: str | None = None
    tx_power: float | None = None
    battery: float | None = None
    temperature: float | None = None
    seq: int | None = None


class GatewayBatch(msgspec.Struct):
    gateway_id: str
    observations: list[msgspec.Raw]


class Observation(msgspec.Struct, array_like=False, omit_defaults=True):
    """A validated, normalised observation; `ts` is epoch milliseconds on the wire (ingest output)."""

    tag_id: str
    gateway_id: str
    rssi: float
    ts: int
    tx_power: float | None = None
    battery: float | None = None
    temperature: float | None = None
    seq: int | None = None


@dataclass(slots=True)
class Rejected:
    reason: str
    raw: bytes
    index: int | None = None  # position inside a gateway batch


_single_decoder = msgspec.json.Decoder(RawObservation)
_batch_decoder = msgspec.json.Decoder(GatewayBatch)
_tag_cache: dict[str, str] = {}  # raw -> normalised, or "" for an id that does not normalise


def normalised_tag(raw: str) -> str:
    """Cached `normalise_tag_id` (the same few hundred thousand ids come round again and again)."""
    tag = _tag_cache.get(raw)
    if not tag:  # not seen yet, or known to fail: normalise_tag_id raises with the reason
        tag = normalise_tag_id(raw)
        if len(_tag_cache) > 1_000_000:
            _tag_cache.clear()
        _tag_cache[raw] = tag
    return tag


def epoch_seconds(ts: datetime.datetime | int | float) -> float:
    """RFC 3339 (must carry a zone) or epoch milliseconds -> epoch seconds; ValueError names the problem."""
    if isinstance(ts, datetime.datetime):
        if ts.tzinfo is None:
            raise ValueError("ts: RFC 3339 time needs a zone, e.g. 2026-01-01T12:00:00Z")
        return ts.timestamp()
    if isinstance(ts, bool) or not math.isfinite(ts):
        raise ValueError(f"ts: expected RFC 3339 or epoch milliseconds, got {ts!r}")
    if 0 < ts < _EPOCH_MS_FLOOR:
        raise ValueError(f"ts: {ts} looks like epoch seconds; send epoch milliseconds or RFC 3339")
    return float(ts) / 1000.0


def check(
    raw: RawObservation, gateway_id: str | None, now_s: float, max_skew_s: float, max_age_s: float
) -> tuple[Observation, float] | str:
    """Validate one decoded row: the normalised observation and its epoch seconds, or the reason it is bad."""
    gateway = raw.gateway_id if raw.gateway_id is not None else gateway_id
    if not gateway or not gateway.strip():
        return "gateway_id: missing"
    try:
        tag = normalised_tag(raw.tag_id)
        ts_s = epoch_seconds(raw.ts)
    except ValueError as exc:
        return str(exc)
    if not (RSSI_MIN_DBM <= raw.rssi <= RSSI_MAX_DBM):
        return f"rssi: {raw.rssi} dBm is outside {RSSI_MIN_DBM:.0f}..{RSSI_MAX_DBM:.0f}"
    if ts_s > now_s + max_skew_s:
        return f"ts: {ts_s - now_s:.0f} s in the future (more than the allowed {max_skew_s:.0f} s clock skew)"
    if ts_s < now_s - max_age_s:
        return f"ts: {now_s - ts_s:.0f} s old (more than the allowed {max_age_s:.0f} s)"
    if raw.battery is not None and not 0 <= raw.battery <= 100:
        return f"battery: {raw.battery} is outside 0..100 %"
    if raw.tx_power is not None and not -100 <= raw.tx_power <= 30:
        return f"tx_power: {raw.tx_power} dBm is outside -100..30"
    return Observation(
        tag,
        gateway.strip(),
        raw.rssi,
        int(round(ts_s * 1000)),
        raw.tx_power,
        raw.battery,
        raw.temperature,
        raw.seq,
    ), ts_s


def _reason(exc: msgspec.ValidationError | msgspec.DecodeError) -> str:
    text = str(exc)
    if " - at `$." in text:  # msgspec: "Expected `int`, got `str` - at `$.rssi`"
        message, _, path = text.rpartition(" - at `$.")
        return f"{path.rstrip('`')}: {message[0].lower()}{message[1:]}"
    if text.startswith("Object missing required field"):
        return f"{text.split('`')[1]}: missing"
    if isinstance(exc, msgspec.DecodeError):
        return f"not valid JSON ({text})"
    return text


def decode_message(
    value: bytes | None, now_s: float, max_skew_s: float, max_age_s: float
) -> tuple[list[tuple[Observation, float]], list[Rejected]]:
    """All observations in one message (single or gateway batch): the good ones and the rejected ones."""
    if not value:
        return [], [Rejected("empty message", value or b"")]
    if b'"observations"' not in value:
        try:
            raw = _single_decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return [], [Rejected(_reason(exc), value)]
        result = check(raw, None, now_s, max_skew_s, max_age_s)
        return ([result], []) if not isinstance(result, str) else ([], [Rejected(result, value)])
    try:
        batch = _batch_decoder.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return [], [Rejected(_reason(exc), value)]
    good: list[tuple[Observation, float]] = []
    bad: list[Rejected] = []
    for index, item in enumerate(batch.observations):
        try:
            raw = _single_decoder.decode(item)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            bad.append(Rejected(f"observations[{index}].{_reason(exc)}", bytes(item), index))
            continue
        result = check(raw, batch.gateway_id, now_s, max_skew_s, max_age_s)
        if isinstance(result, str):
            bad.append(Rejected(f"observations[{index}].{result}", bytes(item), index))
        else:
            good.append(result)
    return good, bad


class DeadLetter(msgspec.Struct, omit_defaults=True):
    """A record on `ble.observations.dlq`: the original bytes (base64 in JSON), why, and where it came from."""

    reason: str
    original: bytes
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    index: int | None = None  # which row of a gateway batch
    rejected_at: str | None = None


encode_json = msgspec.json.Encoder().encode


_list_decoder = msgspec.json.Decoder(list[RawObservation])
# The columns the consumer needs, as polars reads them from NDJSON. A value of another JSON type makes the read
# fail (the exact path then names it), except numbers in the string columns, which polars turns into strings:
# those rows are re-checked by the exact path (see `_MAYBE_NOT_A_STRING`).
_NDJSON_SCHEMA = {
    "tag_id": pl.String,
    "gateway_id": pl.String,
    "rssi": pl.Float64,
    "ts": pl.Int64,
    "battery": pl.Float64,
    "tx_power": pl.Float64,
}
_REQUIRED = ("tag_id", "gateway_id", "rssi", "ts")


@dataclass(slots=True)
class DecodedBatch:
    """Good rows of many messages as columns (`message` = index of the source message), and the rejects.
    Tag and gateway ids come as codes: row r's tag is `tags[tag[r]]` (normalised), its gateway
    `gateways[gateway[r]]`. The lists are the decoder's `IdTables` names: every id it has read, not only this
    batch's; the consumer keeps what it knows about an id (its state, its catalog row) per code.
    `battery` is NaN where the tag did not report one."""

    message: np.ndarray  # (N,) int64
    tag: np.ndarray  # (N,) int64 code: index into tags
    tags: list[str]
    gateway: np.ndarray  # (N,) int64 code: index into gateways
    gateways: list[str]
    rssi: np.ndarray  # (N,) float dBm
    ts_s: np.ndarray  # (N,) float epoch seconds
    battery: np.ndarray  # (N,) float %
    rejected: list[tuple[int, Rejected]]

    def __len__(self) -> int:
        return len(self.message)

    @property
    def tag_id(self) -> list[str]:
        return [self.tags[i] for i in self.tag.tolist()]

    @property
    def gateway_id(self) -> list[str]:
        return [self.gateways[i] for i in self.gateway.tolist()]


_get_tag = attrgetter("tag_id")
_get_gateway = attrgetter("gateway_id")
_get_ts = attrgetter("ts")
_get_rssi = attrgetter("rssi")
_get_battery = attrgetter("battery")
_get_tx_power = attrgetter("tx_power")


def _read_ndjson(values: list[bytes | None]) -> pl.DataFrame | None:
    """All messages read as one NDJSON document by polars (Rust), or None when the batch is not plainly one
    flat JSON object per message of the usual types — the exact path then decides every row."""
    if not values or None in values or b"" in values:
        return None
    joined = b"\n".join(values)  # type: ignore[arg-type]
    if joined.count(b"\n") != len(values) - 1 or b'"observations"' in joined:
        return None  # a message spanning lines, or a gateway batch
    try:
        frame = pl.read_ndjson(io.BytesIO(joined), schema=_NDJSON_SCHEMA)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError):
        return None  # broken JSON or a value of another type somewhere in the batch
    return frame if frame.height == len(values) else None


def _strip_gateway(raw: str) -> str:
    gateway = raw.strip()
    if not gateway:
        raise ValueError("gateway_id: missing")
    return gateway


# A string as polars may have made it from a JSON value of another type (a number, true/false, an object or an
# array): such rows take the exact path, which rejects the type. Some real ids match too; they are only slower.
_MAYBE_NOT_A_STRING = r"(?s)^(?:[-+0-9.eE]+|true|false|[\[{].*)$"


@dataclass(frozen=True, slots=True)
class IdTables:
    """The tag and gateway ids a decoder has read, with their codes (see realtime.ids). One per consumer: a
    table is not shared between threads."""

    tags: IdTable
    gateways: IdTable

    @classmethod
    def create(cls) -> IdTables:
        return cls(
            IdTable(normalise_tag_id, suspect=_MAYBE_NOT_A_STRING),
            IdTable(_strip_gateway, suspect=_MAYBE_NOT_A_STRING),
        )


_ids = IdTables.create()  # for callers that decode on one thread and need no codes of their own


def _passes_checks(
    rssi: np.ndarray,
    ts_ms: np.ndarray,
    battery: np.ndarray,
    tx_power: np.ndarray | None,
    now_s: float,
    max_skew_s: float,
    max_age_s: float,
) -> np.ndarray:
    """Rows passing `check`'s numeric tests, on whole columns (ts in epoch ms; NaN battery/tx = not reported)."""
    ok = (ts_ms >= (now_s - max_age_s) * 1000.0) & (ts_ms <= (now_s + max_skew_s) * 1000.0)
    ok &= (rssi >= RSSI_MIN_DBM) & (rssi <= RSSI_MAX_DBM)
    ok &= np.isnan(battery) | ((battery >= 0) & (battery <= 100))
    if tx_power is not None:
        ok &= np.isnan(tx_power) | ((tx_power >= -100) & (tx_power <= 30))
    return ok


def decode_batch(
    values: list[bytes | None],
    now_s: float,
    max_skew_s: float,
    max_age_s: float,
    ids: IdTables | None = None,
) -> DecodedBatch:
    """`decode_message` over many messages, column-oriented. The usual batch (one flat observation per message)
    is read by polars as NDJSON in one call and checked on whole columns; anything unusual (a gateway batch,
    broken JSON, an RFC 3339 ts) is decoded by msgspec, all single observations in one call, and checked the
    same way. Only rows failing the column checks take `decode_message`, which names the problem."""
    frame = _read_ndjson(values)
    if frame is not None:
        return _decode_frame(frame, values, now_s, max_skew_s, max_age_s, ids or _ids)
    return _decode_objects(values, now_s, max_skew_s, max_age_s, ids or _ids)


def _decode_frame(
    frame: pl.DataFrame,
    values: list[bytes | None],
    now_s: float,
    max_skew_s: float,
    max_age_s: float,
    ids: IdTables,
) -> DecodedBatch:
    n = frame.height
    tag = ids.tags.column_codes(frame.get_column("tag_id"))
    gateway = ids.gateways.column_codes(frame.get_column("gateway_id"))
    rssi = frame.get_column("rssi").to_numpy().astype(float, copy=False)  # null -> NaN: fails the range test
    ts_ms = frame.get_column("ts").to_numpy().astype(float, copy=False)
    battery = frame.get_column("battery").to_numpy().astype(float, copy=False)
    tx_power = frame.get_column("tx_power")
    tx = None if tx_power.null_count() == n else tx_power.to_numpy().astype(float, copy=False)
    ok = (tag >= 0) & (gateway >= 0) & _passes_checks(rssi, ts_ms, battery, tx, now_s, max_skew_s, max_age_s)
    slow: list[tuple[int, Observation, float]] = []
    rejected: list[tuple[int, Rejected]] = []
    for i in np.flatnonzero(~ok).tolist():
        good, bad = decode_message(values[i], now_s, max_skew_s, max_age_s)
        slow.extend((i, obs, ts_s) for obs, ts_s in good)
        rejected.extend((i, r) for r in bad)
    return _assemble(ok, (np.arange(n), tag, gateway, rssi, ts_ms, battery), rejected, slow, ids)


def _decode_objects(
    values: list[bytes | None], now_s: float, max_skew_s: float, max_age_s: float, ids: IdTables
) -> DecodedBatch:
    rejected: list[tuple[int, Rejected]] = []
    objs: list[RawObservation] | None = None
    joined = b",".join(values) if values and None not in values else b""  # type: ignore[arg-type]
    if (
        joined
        and b'"observations"' not in joined
        and b",," not in joined
        and joined[:1] != b","
        and joined[-1:] != b","
    ):  # an empty message leaves an empty slot
        try:
            objs = _list_decoder.decode(b"[" + joined + b"]")
            if len(objs) != len(values):  # a message holding several values: find it the slow way
                objs = None
            source: list[int] | range = range(len(values))
        except (msgspec.ValidationError, msgspec.DecodeError):
            objs = None
    slow: list[tuple[int, Observation, float]] = []
    if objs is None:  # a broken message or a gateway batch: decode message by message, still columns after
        objs, source = [], []
        for i, value in enumerate(values):
            if value and b'"observations"' not in value:
                try:
                    objs.append(_single_decoder.decode(value))
                    source.append(i)
                    continue
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    rejected.append((i, Rejected(_reason(exc), value)))
                    continue
            good, bad = decode_message(value, now_s, max_skew_s, max_age_s)
            slow.extend((i, obs, ts_s) for obs, ts_s in good)
            rejected.extend((i, r) for r in bad)
    n = len(objs)
    message = np.asarray(source, np.int64)
    tag = ids.tags.spelling_codes(list(map(_get_tag, objs)))
    gateway = ids.gateways.spelling_codes(list(map(_get_gateway, objs)))
    ts_raw = np.array(list(map(_get_ts, objs))) if n else np.zeros(0, np.int64)
    rssi = np.fromiter(map(_get_rssi, objs), float, n)
    battery = np.array(list(map(_get_battery, objs)), float) if n else np.zeros(0)
    tx_power = list(map(_get_tx_power, objs))
    tx = np.array(tx_power, float) if tx_power.count(None) != n else None
    ok = (tag >= 0) & (gateway >= 0)
    if ts_raw.dtype.kind == "i":  # epoch ms, the wire format of ingest; anything else takes the row path
        ts_ms = ts_raw.astype(float)
        ok &= _passes_checks(rssi, ts_ms, battery, tx, now_s, max_skew_s, max_age_s)
    else:
        ts_ms = np.zeros(n)
        ok[:] = False
    for row in np.flatnonzero(~ok).tolist():
        i = int(message[row])
        result = check(objs[row], None, now_s, max_skew_s, max_age_s)
        if isinstance(result, str):
            rejected.append((i, Rejected(result, values[i] or b"")))
        else:
            slow.append((i, result[0], result[1]))
    return _assemble(ok, (message, tag, gateway, rssi, ts_ms, battery), rejected, slow, ids)


def _assemble(
    ok: np.ndarray,
    columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rejected: list[tuple[int, Rejected]],
    slow: list[tuple[int, Observation, float]],
    ids: IdTables,
) -> DecodedBatch:
    """The `ok` rows of the columns (message, tag code, gateway code, rssi, ts in ms, battery), then the rows the
    exact path accepted."""
    message, tag, gateway, rssi, ts_ms, battery = columns
    rows = np.flatnonzero(ok)
    rejected.sort(key=lambda item: item[0])
    out = DecodedBatch(
        message[rows],
        tag[rows],
        ids.tags.names,
        gateway[rows],
        ids.gateways.names,
        rssi[rows],
        ts_ms[rows] / 1000.0,
        battery[rows],
        rejected,
    )
    if not slow:
        return out
    out.message = np.concatenate([out.message, np.array([i for i, _, _ in slow], np.int64)])
    out.tag = np.concatenate([out.tag, ids.tags.codes([obs.tag_id for _, obs, _ in slow])])
    out.gateway = np.concatenate([out.gateway, ids.gateways.codes([obs.gateway_id for _, obs, _ in slow])])
    out.rssi = np.concatenate([out.rssi, np.array([obs.rssi for _, obs, _ in slow], float)])
    out.ts_s = np.concatenate([out.ts_s, np.array([t for _, _, t in slow], float)])
    out.battery = np.concatenate([out.battery, np.array([obs.battery for _, obs, _ in slow], float)])
    return out
