"""Log-distance path loss: `RSSI = A + tx_offset − 10·n·log10(d)`.

`A` (dBm at 1 m) and `n` are per gateway (antenna gain, mounting, surroundings); `tx_offset` (dB) is per tag
(advertised tx power relative to the reference tag the defaults were measured with). Shadowing is log-normal,
so residuals are compared in dB, where the noise is roughly Gaussian and independent of distance.
"""

from __future__ import annotations

import numpy as np

# Below 10 cm the far-field model is meaningless; clamp so log10 stays finite.
MIN_RANGE_M = 0.1


def expected_rssi(
    distance_m: np.ndarray,
    ref_rssi_1m_dbm: np.ndarray,
    exponent: np.ndarray,
    tx_offset_db: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Mean RSSI (dBm) at the given 3-D distances."""
    return ref_rssi_1m_dbm + tx_offset_db - 10.0 * exponent * np.log10(np.maximum(distance_m, MIN_RANGE_M))


def range_from_rssi(
    rssi_dbm: np.ndarray,
    ref_rssi_1m_dbm: np.ndarray,
    exponent: np.ndarray,
    tx_offset_db: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Median 3-D distance (m) that explains an RSSI — the inverse of `expected_rssi`."""
    return 10.0 ** ((ref_rssi_1m_dbm + tx_offset_db - rssi_dbm) / (10.0 * exponent))
