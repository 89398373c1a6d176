"""Decoding and validation of BLE observations (the `ble.observations` contract), shared by ingest and the consumer.

A message is one observation or a gateway batch (`{"gateway_id", "observations": [...]}`). Good rows come out
normalised (tag id upper-case hex without separators, ts in epoch seconds); every bad row comes out as a reason
naming the field, which the consumer sends to the DLQ and ingest returns to the gateway. Nothing raises.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import msgspec

from core.db.models.assets import normalise_tag_id

RSSI_MIN_DBM = -127.0
RSSI_MAX_DBM = 20.0
# Epoch numbers below this are almost certainly seconds sent where milliseconds were expected.
_EPOCH_MS_FLOOR = 100_000_000_000  # 1973-03-03 in ms, 5138 AD in s


class RawObservation(msgspec.Struct, forbid_unknown_fields=False):
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


def check(raw: RawObservation, gateway_id: str | None, now_s: float, max_skew_s: float,
          max_age_s: float) -> tuple[Observation, float] | str:
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
    return Observation(tag, gateway.strip(), raw.rssi, int(round(ts_s * 1000)), raw.tx_power, raw.battery,
                       raw.temperature, raw.seq), ts_s


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


def decode_message(value: bytes | None, now_s: float, max_skew_s: float,
                   max_age_s: float) -> tuple[list[tuple[Observation, float]], list[Rejected]]:
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
    """Good rows of many messages as columns (`message` = index of the source message), and the rejects."""

    message: list[int]
    tag_id: list[str]
    gateway_id: list[str]
    rssi: list[float]
    ts_s: list[float]
    battery: list[float | None]
    rejected: list[tuple[int, Rejected]]


def decode_batch(values: list[bytes | None], now_s: float, max_skew_s: float, max_age_s: float) -> DecodedBatch:
    """`decode_message` over many messages, with a fast path: when every message is a single well-formed
    observation, one msgspec call decodes them all and the checks run on whole columns; rows failing a check
    (and every message of a batch that has any gateway batch or broken JSON) go through the exact row path."""
    out = DecodedBatch([], [], [], [], [], [], [])
    objs: list[RawObservation] | None = None
    if values and all(v and b'"observations"' not in v for v in values):
        try:
            objs = _list_decoder.decode(b"[" + b",".join(values) + b"]")  # type: ignore[arg-type]
        except (msgspec.ValidationError, msgspec.DecodeError):
            objs = None
    if objs is None:
        for i, value in enumerate(values):
            good, bad = decode_message(value, now_s, max_skew_s, max_age_s)
            for obs, ts_s in good:
                _append(out, i, obs.tag_id, obs.gateway_id, obs.rssi, ts_s, obs.battery)
            out.rejected.extend((i, r) for r in bad)
        return out
    cache = _tag_cache
    lo_ts, hi_ts = (now_s - max_age_s) * 1000.0, (now_s + max_skew_s) * 1000.0
    for i, raw in enumerate(objs):
        ts = raw.ts
        tag = cache.get(raw.tag_id)
        if (tag is not None and raw.gateway_id and type(ts) is int and lo_ts <= ts <= hi_ts
                and RSSI_MIN_DBM <= raw.rssi <= RSSI_MAX_DBM and raw.tx_power is None
                and (raw.battery is None or 0 <= raw.battery <= 100)):
            _append(out, i, tag, raw.gateway_id, raw.rssi, ts / 1000.0, raw.battery)
            continue
        result = check(raw, None, now_s, max_skew_s, max_age_s)
        if isinstance(result, str):
            out.rejected.append((i, Rejected(result, values[i] or b"")))
        else:
            obs, ts_s = result
            _append(out, i, obs.tag_id, obs.gateway_id, obs.rssi, ts_s, obs.battery)
    return out


def _append(out: DecodedBatch, i: int, tag: str, gateway: str, rssi: float, ts_s: float,
            battery: float | None) -> None:
    out.message.append(i)
    out.tag_id.append(tag)
    out.gateway_id.append(gateway)
    out.rssi.append(rssi)
    out.ts_s.append(ts_s)
    out.battery.append(battery)
