"""Validation of observations: what is accepted, how it is normalised, and the reason given for what is not."""

from __future__ import annotations

import time

import pytest

from realtime.observations import decode_batch, decode_message

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0
NOW_MS = int(NOW * 1000)


def _decode(raw: bytes):  # type: ignore[no-untyped-def]
    return decode_message(raw, NOW, 300.0, 86400.0)


def test_good_observation_is_normalised() -> None:
    good, bad = _decode(
        b'{"tag_id": "ac:23:3f-a0.01_02", "gateway_id": " gw-1 ", "rssi": -71, "ts": %d}' % NOW_MS
    )
    assert bad == []
    obs, ts_s = good[0]
    assert obs.tag_id == "AC233FA00102" and obs.gateway_id == "gw-1" and ts_s == pytest.approx(NOW)


def test_rfc3339_and_epoch_ms_mean_the_same_time() -> None:
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW))
    ((a, ts_a),) = _decode(b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": "%s"}' % iso.encode())[0]
    ((b, ts_b),) = _decode(b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS)[0]
    assert ts_a == ts_b


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", "not valid JSON"),
        (b'{"gateway_id": "g", "rssi": -60, "ts": 1}', "tag_id: missing"),
        (b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60}', "ts: missing"),
        (
            b'{"tag_id": "AA", "gateway_id": "g", "rssi": -200, "ts": %d}' % NOW_MS,
            "rssi: -200.0 dBm is outside",
        ),
        (b'{"tag_id": "AA", "gateway_id": "g", "rssi": "x", "ts": %d}' % NOW_MS, "rssi: expected `float`"),
        (
            b'{"tag_id": "NOT-HEX!", "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
            "tag_id: expected 1-64 hex",
        ),
        (
            b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": %d}' % (NOW_MS + 3_600_000),
            "in the future",
        ),
        (b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": %d}' % (NOW_MS - 2 * 86_400_000), "old"),
        (
            b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": %d}' % int(NOW),
            "looks like epoch seconds",
        ),
        (b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": "2026-01-01T00:00:00"}', "needs a zone"),
        (b'{"tag_id": "AA", "rssi": -60, "ts": %d}' % NOW_MS, "gateway_id: missing"),
        (b'{"tag_id": "AA", "gateway_id": "g", "rssi": -60, "ts": %d, "battery": 140}' % NOW_MS, "battery:"),
    ],
)
def test_bad_observations_say_which_field_is_wrong(raw: bytes, reason: str) -> None:
    good, bad = _decode(raw)
    assert good == []
    assert reason in bad[0].reason
    assert bad[0].raw == raw


def test_partly_bad_gateway_batch_keeps_good_rows_and_reports_bad_ones_by_index() -> None:
    raw = (
        b'{"gateway_id": "gw-9", "observations": [{"tag_id": "aa", "rssi": -60, "ts": %d},'
        b' {"tag_id": "bb", "rssi": 99, "ts": %d}, {"tag_id": "cc", "rssi": -70, "ts": %d}]}'
        % (NOW_MS, NOW_MS, NOW_MS)
    )
    good, bad = _decode(raw)
    assert [(o.tag_id, o.gateway_id) for o, _ in good] == [("AA", "gw-9"), ("CC", "gw-9")]
    assert [(r.index, r.reason.split(":")[0]) for r in bad] == [(1, "observations[1].rssi")]


def test_batch_decoder_agrees_with_the_row_decoder() -> None:
    values = [b'{"tag_id": "a%d", "gateway_id": "g", "rssi": -60, "ts": %d}' % (i, NOW_MS) for i in range(5)]
    values.append(b'{"tag_id": "AA", "gateway_id": "g", "rssi": 50, "ts": %d}' % NOW_MS)
    for batch_values in (values, [*values, b"{broken"]):
        batch = decode_batch(batch_values, NOW, 300.0, 86400.0)
        assert batch.tag_id == [f"A{i}" for i in range(5)]
        assert [i for i, _ in batch.rejected] == list(range(5, len(batch_values)))
        assert "rssi" in batch.rejected[0][1].reason


# Each of these sits in an otherwise ordinary batch: the batch decoder (polars NDJSON read, or msgspec when that
# read fails) must keep and reject exactly what the row decoder does, with the same reasons.
UNUSUAL = [
    b'{"tag_id": 123456, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,  # a number where a string goes
    b'{"tag_id": "123456", "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,  # digits, but a string: fine
    b'{"tag_id": -5, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": 1.5, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": 1E5, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": true, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": {"id": "g"}, "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": ["g"], "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "not hex", "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": 17, "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "  gw-2 ", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "   ", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": null, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "ts": %d}' % NOW_MS,
    b'{"gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": null, "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "rssi": -60, "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": -60, "ts": %d, "battery": null, "extra": [1, {"a": 2}]}'
    % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": -60, "ts": %d, "tx_power": 99}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": -60, "ts": %d.5}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": "-60", "ts": %d}' % NOW_MS,
    b'{"tag_id": "AB", "gateway_id": "g", "rssi": -60, "ts": "2027-01-15T08:00:00+00:00"}',
    b'{"tag_id": "AB",\n "gateway_id": "g", "rssi": -60, "ts": %d}' % NOW_MS,
    b'[{"tag_id": "AB", "gateway_id": "g", "rssi": -60, "ts": %d}]' % NOW_MS,
    b"",
    b"   ",
]


@pytest.mark.parametrize("unusual", UNUSUAL)
def test_batch_decoder_treats_unusual_messages_like_the_row_decoder(unusual: bytes) -> None:
    ordinary = [
        b'{"tag_id":"a%d","gateway_id":"gw-1","rssi":-70,"ts":%d}' % (i, NOW_MS + i) for i in range(4)
    ]
    values = [*ordinary[:2], unusual, *ordinary[2:]]
    batch = decode_batch(values, NOW, 300.0, 86400.0)
    expected = [
        (i, obs.tag_id, obs.gateway_id, obs.rssi) for i, v in enumerate(values) for obs, _ in _decode(v)[0]
    ]
    got = sorted(
        zip(batch.message.tolist(), batch.tag_id, batch.gateway_id, batch.rssi.tolist(), strict=True)
    )
    assert got == expected
    assert [(i, r.reason) for i, r in batch.rejected] == [(2, r.reason) for r in _decode(unusual)[1]]


def test_spellings_of_one_tag_in_a_batch_are_one_tag() -> None:
    spellings = [b"aa:bb:cc", b"AABBCC", b"aa-bb-cc", b"0A0B"]
    values = [b'{"tag_id":"%s","gateway_id":"gw-1","rssi":-70,"ts":%d}' % (s, NOW_MS) for s in spellings]
    batch = decode_batch(values, NOW, 300.0, 86400.0)
    assert batch.tag_id == ["AABBCC", "AABBCC", "AABBCC", "0A0B"]
    codes = batch.tag.tolist()
    assert codes[0] == codes[1] == codes[2] != codes[3]  # one tag, one code: its state is looked up once
