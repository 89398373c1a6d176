"""Decoding and validation of BLE observations (the `ble.observations` contract), shared by ingest and the consumer.

A message is one observation or a gateway batch (`{"gateway_id", "observations": [...]}`). Good rows come out
normalised (tag id upper-case hex without separators, ts in epoch seconds); every bad row comes out as a reason
naming the field, which the consumer sends to the DLQ and ingest returns to the gateway. Nothing raises.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, is_not

import msgspec
import numpy as np

from core.db.models.assets import normalise_tag_id

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
_tag_cache: dict[str, str] = {}


def normalised_tag(raw: str) -> str:
    """Cached `normalise_tag_id` (the same few hundred thousand ids come round again and again)."""
    tag = _tag_cache.get(raw)
    if tag is None:
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


@dataclass(slots=True)
class DecodedBatch:
    """Good rows of many messages as columns (`message` = index of the source message), and the rejects.
    `battery` is NaN where the tag did not report one."""

    message: np.ndarray  # (N,) int64
    tag_id: list[str]
    gateway_id: list[str]
    rssi: np.ndarray  # (N,) float dBm
    ts_s: np.ndarray  # (N,) float epoch seconds
    battery: np.ndarray  # (N,) float %
    rejected: list[tuple[int, Rejected]]

    def __len__(self) -> int:
        return len(self.tag_id)


_get_tag = attrgetter("tag_id")
_get_gateway = attrgetter("gateway_id")
_get_ts = attrgetter("ts")
_get_rssi = attrgetter("rssi")
_get_battery = attrgetter("battery")
_get_tx_power = attrgetter("tx_power")


def decode_batch(
    values: list[bytes | None], now_s: float, max_skew_s: float, max_age_s: float
) -> DecodedBatch:
    """`decode_message` over many messages, column-oriented: one msgspec call decodes all single observations
    (joined into one JSON array), the common checks run on whole numpy columns, and only rows failing them
    (plus gateway batches and broken messages) take the exact per-row path that names the problem."""
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
    raw_tags = list(map(_get_tag, objs))
    tags = list(map(_tag_cache.get, raw_tags))
    if None in tags:  # tags seen for the first time: normalise each distinct one once (bad ones: row path)
        for raw in set(raw_tags).difference(_tag_cache):  # set ops at C speed, not a Python loop per row
            try:
                normalised_tag(raw)
            except ValueError:
                continue
        tags = list(map(_tag_cache.get, raw_tags))
    gateways = list(map(_get_gateway, objs))
    ts_raw = np.array(list(map(_get_ts, objs))) if n else np.zeros(0, np.int64)
    rssi = np.fromiter(map(_get_rssi, objs), float, n)
    battery = np.array(list(map(_get_battery, objs)), float) if n else np.zeros(0)
    ok = np.fromiter(map(bool, gateways), bool, n) & np.fromiter(map(is_not, tags, repeat(None)), bool, n)
    if ts_raw.dtype.kind == "i":  # epoch ms, the wire format of ingest; anything else takes the row path
        ts = ts_raw.astype(float)
        ok &= (ts >= (now_s - max_age_s) * 1000.0) & (ts <= (now_s + max_skew_s) * 1000.0)
        ts /= 1000.0
    else:
        ts = np.zeros(n)
        ok[:] = False
    ok &= (rssi >= RSSI_MIN_DBM) & (rssi <= RSSI_MAX_DBM)
    ok &= np.isnan(battery) | ((battery >= 0) & (battery <= 100))
    tx_power = list(map(_get_tx_power, objs))
    if tx_power.count(None) != n:
        tx = np.array(tx_power, float)
        ok &= np.isnan(tx) | ((tx >= -100) & (tx <= 30))
    for row in np.flatnonzero(~ok).tolist():
        i = int(message[row])
        result = check(objs[row], None, now_s, max_skew_s, max_age_s)
        if isinstance(result, str):
            rejected.append((i, Rejected(result, values[i] or b"")))
        else:
            slow.append((i, result[0], result[1]))
    kept = np.flatnonzero(ok)
    if len(kept) == n:
        out = DecodedBatch(message, tags, gateways, rssi, ts, battery, rejected)  # type: ignore[arg-type]
    else:
        out = DecodedBatch(
            message[kept],
            [tags[r] for r in kept.tolist()],  # type: ignore[misc]
            [gateways[r] for r in kept.tolist()],
            rssi[kept],
            ts[kept],
            battery[kept],
            rejected,
        )
    rejected.sort(key=lambda item: item[0])
    if slow:
        out.message = np.concatenate([out.message, np.array([i for i, _, _ in slow], np.int64)])
        out.tag_id.extend(obs.tag_id for _, obs, _ in slow)
        out.gateway_id.extend(obs.gateway_id for _, obs, _ in slow)
        out.rssi = np.concatenate([out.rssi, np.array([obs.rssi for _, obs, _ in slow], float)])
        out.ts_s = np.concatenate([out.ts_s, np.array([t for _, _, t in slow], float)])
        out.battery = np.concatenate([out.battery, np.array([obs.battery for _, obs, _ in slow], float)])
    return out
