"""``own_``: the educator's history on the query's competency.

Over the educator's records on this competency strictly before ``as_of`` (ties at one time are
ordered by ``evidence_id``; "latest" is the last in that order), with ``tau = decay_days``:

- ``own_n`` how many; ``own_rate`` the share proficient; ``own_mean_score`` their mean score;
- ``own_last_score`` the latest record's score, ``own_days_since`` days from it to ``as_of``;
- ``own_trend`` the latest score minus the mean score of the records before it;
- ``own_decay_mean`` the mean score weighted by ``exp(-(as_of - t) / tau)`` and
  ``own_decay_weight`` the sum of those weights (0 without history);
- ``own_n_<source>`` and ``own_mean_<source>``: count and mean score per evidence source;
- ``own_recent_rate`` the share proficient among the last ``recent_window`` records;
- ``own_first_score`` the score of the first record;
- ``own_streak``: +k after k proficient records in a row (the latest ones), -k after k not
  proficient, counted within the last ``history_length`` records.

``hist_bits``/``hist_len`` (identity-like integer columns for sequence models such as BKT) pack
the outcomes of the last ``history_length`` records, oldest in bit 0.

Rates, means, scores and days are NaN without history; counts are 0.
"""

from __future__ import annotations

import numpy as np

from recommender.evidence import SOURCES
from recommender.features.asof import days_since, gather, ratio
from recommender.features.context import History

__all__ = ["history", "packed_outcomes", "recency", "streak"]


def history(h: History) -> dict[str, np.ndarray]:
    """Counts, rate, means, the latest record and the per-source columns."""
    cum, pos, at = h.own_rows, h.pos, h.q.t
    n = cum[:, 0]
    last = gather(h.own_score, pos)
    t_first = gather(h.own_time[h.own.start], pos, 0)
    out = {
        "own_n": n,
        "own_rate": ratio(cum[:, 1], n),
        "own_mean_score": ratio(cum[:, 2], n),
        "own_last_score": last,
        "own_days_since": days_since(at, h.own_time, pos),
        "own_trend": last - ratio(cum[:, 2] - np.where(np.isnan(last), 0.0, last), n - 1),
        "own_decay_mean": ratio(cum[:, 4], cum[:, 3]),
        # the weights are relative to the group's first record: rescale them to as_of
        "own_decay_weight": np.where(pos >= 0, cum[:, 3] * np.exp(-(at - t_first) / h.tau), 0.0),
    }
    k = len(SOURCES)
    means = ratio(cum[:, 5 + k: 5 + 2 * k].T, cum[:, 5: 5 + k].T)  # a row per source
    for i, name in enumerate(SOURCES):
        out[f"own_n_{name}"] = cum[:, 5 + i]
        out[f"own_mean_{name}"] = means[i]
    return out


def packed_outcomes(h: History, history_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the last ``history_length`` outcomes packed as bits (oldest in bit 0), and how
    many there are (``hist_bits``, ``hist_len``).

    Every record's last outcomes are packed newest first by a doubling scan over the records
    (each pass ORs in the outcomes ``step`` records back, shifted up by ``step``; a few passes
    of whole-array operations, not one per outcome), then read at the queries' positions and
    bit-reversed into oldest-first order.
    """
    own = h.own
    packed = h.prof[own.order].astype(np.int64)  # newest outcome in bit 0
    for step, inside in own.passes(reach=history_length):
        older = (packed[:-step] & ((1 << (history_length - step)) - 1)) << step  # < 2**length
        np.bitwise_or(packed[step:], older, out=packed[step:], where=inside)
    length = gather(np.minimum(own.offset + 1, history_length), h.pos, 0)
    newest_first = gather(packed & ((1 << history_length) - 1), h.pos, 0)
    return _reversed_bits(newest_first, length), length


_REVERSED_BYTE = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)
"""Each byte value with its eight bits in reverse order."""


def _reversed_bits(x: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The lowest ``length`` bits of each non-negative ``x`` in reverse order (0 for length 0).

    The 64-bit reversal is each byte's bits reversed (one table lookup for all bytes) in
    reversed byte order; shifted down by ``64 - length``.
    """
    x = np.ascontiguousarray(x, dtype=np.uint64)
    whole = _REVERSED_BYTE[x.view(np.uint8)].view(np.uint64).byteswap()
    down = np.uint64(64) - np.maximum(length, 1).astype(np.uint64)
    return np.where(length > 0, whole >> down, np.uint64(0)).astype(np.int64)


def recency(h: History, recent_window: int, bits: np.ndarray, length: np.ndarray,
            history_length: int) -> dict[str, np.ndarray]:
    """The recent proficiency rate, the current streak (from the packed outcomes ``bits`` and
    ``length`` of :func:`packed_outcomes`) and the first record's score."""
    window_sums, window_n = h.own.window(h.own_cum[:, :2], h.pos, recent_window)
    return {
        "own_recent_rate": ratio(window_sums[:, 1], window_n),
        "own_streak": streak(bits, length, history_length),
        "own_first_score": gather(h.own_score[h.own.start], h.pos),
    }


def streak(bits: np.ndarray, length: np.ndarray, max_len: int) -> np.ndarray:
    """Signed run of identical latest outcomes in packed histories: +k after k proficient records
    in a row, -k after k not proficient; NaN without history (capped at ``max_len``).

    The run ends at the highest of the ``length`` bits that differs from the newest (bit
    ``length - 1``): one bit search per history, no loop over its bits.
    """
    bits, length = np.asarray(bits, np.int64), np.minimum(np.asarray(length, np.int64), max_len)
    newest = (bits >> np.maximum(length - 1, 0)) & 1
    differ = np.where(newest == 1, ~bits, bits) & ((np.int64(1) << length) - 1)
    run = (length - 1 - _highest_bit(differ)).astype(float)  # none differs: the whole length
    return np.where(length > 0, np.where(newest == 1, run, -run), np.nan)


def _highest_bit(x: np.ndarray) -> np.ndarray:
    """The index of the highest set bit of each non-negative int64 below ``2**62`` (-1 for 0),
    exactly: an integer below ``2**53`` is exact as a float, whose binary exponent ``frexp``
    reads; above, each 31-bit half is read so."""
    if not len(x) or x.max() < 2**53:
        return np.frexp(x.astype(float))[1] - 1
    high, low = x >> 31, x & ((1 << 31) - 1)
    return np.where(high > 0, 30 + np.frexp(high.astype(float))[1],
                    np.frexp(low.astype(float))[1] - 1)
