"""As-of scans: per-group running sums over time, read strictly before a query's time.

Evidence is sorted once by group (educator x competency, educator x domain, educator, ...) and
time; per-group running sums are taken once; each query finds, with one ``searchsorted`` on a
composite (group, time-rank) key, the last record of its group before its time and reads the sums
there. A query with no such record gets position ``-1``; :func:`take`, :func:`gather` and
:func:`days_since` are the only readers of a position and turn ``-1`` into "no history" (zeros for
sums, a fill value otherwise), so empty evidence, or an educator without any, needs no special
case anywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import pandas as pd

__all__ = ["NS_PER_DAY", "AsOf", "column_major", "days_since", "filled", "gather", "ratio",
           "stack_columns", "take", "to_ns"]

NS_PER_DAY = 86_400 * 10**9
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3}
_INT64_MAX = int(np.iinfo(np.int64).max)


class AsOf:
    """Per-group cumulative sums over time, looked up strictly before a time.

    ``groups`` and ``ranks`` are int64 arrays (time as a dense rank shared with the queries, below
    ``n_ranks``). Records are sorted once by (group, rank, input position): ``order`` maps sorted
    positions to input positions, ``start`` gives each sorted record its group's first position and
    ``offset`` its position within the group. :meth:`accumulate` and :meth:`decayed` take exact
    per-group running sums in that order; :meth:`index` finds each query's last record.
    """

    def __init__(self, groups: np.ndarray, ranks: np.ndarray, n_ranks: int):
        self.n_ranks = np.int64(n_ranks + 1)
        keys = np.asarray(groups, dtype=np.int64) * self.n_ranks + ranks
        # one stable sort of the (group, rank) key: ties keep input order, as a lexsort of
        # (group, rank, position) would, in one sort instead of three
        self.order = keys.argsort(kind="stable")
        self.groups = groups[self.order]
        self.keys = keys[self.order]
        at = np.arange(len(self.order))
        starts = filled(len(at), True, bool)  # the first record of its group
        np.not_equal(self.groups[1:], self.groups[:-1], out=starts[1:])
        self.start = np.maximum.accumulate(np.where(starts, at, 0))
        self.offset = at - self.start

    def accumulate(self, sorted_values: np.ndarray) -> np.ndarray:
        """Running sums of ``sorted_values`` (already in sorted order) restarting per group.

        A segmented Hillis-Steele scan: ``log2(longest group)`` vectorized passes. Each group's
        sums depend only on that group's values, so they are the same whatever else is in the
        evidence (one educator's rows or a million), which keeps serving equal to training.

        A pass adds each value ``step`` places back to the values at least ``step`` into their
        group: one masked add of two shifted views of the array (NumPy reads overlapping inputs
        before it writes), not a gather and scatter of the rows by index, which cost about twice
        as much, for one educator's rows and for a large batch alike.
        """
        out = np.array(sorted_values, dtype=np.float64, copy=True)
        for step, inside in self._passes:
            np.add(out[step:], out[:-step], out=out[step:], where=_along(inside, out))
        return out

    def count(self, sorted_values: np.ndarray) -> np.ndarray:
        """:meth:`accumulate` of integer-valued columns (counts), by one cumulative sum less
        the sum before the group's first record: the same numbers (integers below 2**53 are
        exact in any order of addition), in one pass instead of the scan's."""
        values = np.asarray(sorted_values, dtype=np.float64)
        total = np.zeros((len(values) + 1, *values.shape[1:]))
        values.cumsum(axis=0, out=total[1:])
        return total[1:] - total[self.start]

    def passes(self, reach: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """A doubling scan's passes: ``step`` (1, 2, 4, ... below the longest group, and below
        ``reach`` when a scan needs to see only that many records back) and, for the records
        from position ``step`` on, whether the record ``step`` places back is in the same
        group."""
        for step, inside in self._passes:
            if reach is not None and step >= reach:
                return
            yield step, inside

    @functools.cached_property
    def _passes(self) -> list[tuple[int, np.ndarray]]:
        """Every pass of :meth:`passes` (the masks made once: every scan of these records
        reads them)."""
        longest = int(self.offset.max(initial=0)) + 1
        steps = 2 ** np.arange(max(longest - 1, 0).bit_length())  # 1, 2, 4, ... below longest
        return [(int(step), self.offset[step:] >= step) for step in steps]

    def decayed(self, sorted_times: np.ndarray, sorted_values: np.ndarray, tau: float) -> np.ndarray:
        """Per record, ``sum_j exp(-(t_i - t_j) / tau) * v_j`` over its group's records up to it
        (for each column of a 2-D ``sorted_values``, in one scan).

        The same segmented scan as :meth:`accumulate`, on the linear recurrence
        ``S_i = a_i S_{i-1} + v_i`` with ``a_i = exp(-(t_i - t_{i-1}) / tau) <= 1``: no weight
        ever exceeds one, so long histories with a short ``tau`` cannot overflow.
        """
        b = np.array(sorted_values, dtype=np.float64, copy=True)
        times = np.asarray(sorted_times, dtype=np.float64)
        gap = np.empty(len(times))  # to the previous record (the first: from time 0)
        gap[:1] = times[:1]
        np.subtract(times[1:], times[:-1], out=gap[1:])
        a = np.exp(-np.maximum(gap, 0.0) / tau)
        a[self.offset == 0] = 0.0
        for step, inside in self._passes:  # as accumulate's, on (a, b) pairs
            np.add(b[step:], _along(a[step:], b) * b[:-step], out=b[step:],
                   where=_along(inside, b))
            np.multiply(a[step:], a[:-step], out=a[step:], where=inside)
        return b

    def window(self, cum: np.ndarray, pos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``cum``'s columns over the last ``k`` records up to ``pos`` (-1: none), and
        how many records that is (fewer at the start of a group)."""
        offset = gather(self.offset, pos, -1)
        back = np.where(offset >= k, pos - k, -1)
        return take(cum, pos) - take(cum, back), np.minimum(k, offset + 1).astype(np.float64)

    def index(self, groups: np.ndarray, ranks: np.ndarray, inclusive: bool = False) -> np.ndarray:
        """Position (in sorted order) of each query's last record before its rank (at or before
        it if ``inclusive``) in its group, or -1."""
        keys = groups * self.n_ranks + ranks
        pos = self.keys.searchsorted(keys, side="right" if inclusive else "left") - 1
        ok = pos >= 0
        ok[ok] = self.groups[pos[ok]] == groups[ok]
        return np.where(ok, pos, -1)


def _along(per_record: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A per-record array shaped to broadcast over the columns of ``values`` (1-D or 2-D)."""
    return per_record if values.ndim == 1 else per_record[:, None]


def take(cum: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows of the 2-D ``cum`` at ``pos``; zeros where ``pos`` is -1 (no history)."""
    return gather(cum, pos, 0.0)


def gather(values: np.ndarray, pos: np.ndarray, fill=np.nan) -> np.ndarray:
    """``values[pos]`` (elements of a 1-D array, rows of a 2-D one), with ``fill`` where ``pos``
    is -1 (no history); integer values stay integers when ``fill`` is an integer.

    Every position is read by index (position 0 stands in for -1) and those without history
    are then blanked: a gather and one masked write cost less than a masked gather into a
    filled array. Rows of a column-major array (:func:`column_major`) are gathered column by
    column into a column-major result: each column is read from one contiguous run (a third of
    the time of gathering 17-wide rows at 420,000 queries), and readers take columns."""
    values = np.asarray(values)
    # floats stay floats whatever the (numeric) fill; otherwise NumPy's promotion decides
    dtype = values.dtype if values.dtype == np.float64 else np.result_type(values,
                                                                           np.asarray(fill))
    if not len(values):
        return filled((len(pos), *values.shape[1:]), fill, dtype)
    # mode="clip" reads position 0 for -1, blanked below
    if values.ndim == 2 and values.flags.f_contiguous and not values.flags.c_contiguous:
        out = values.T.take(pos, axis=1, mode="clip").T.astype(dtype, copy=False)
    else:
        out = values.take(pos, axis=0, mode="clip").astype(dtype, copy=False)
    out[pos < 0] = fill
    return out


def column_major(*blocks: np.ndarray) -> np.ndarray:
    """The columns of ``blocks`` (1-D arrays and 2-D column blocks of equal length) side by side,
    in one column-major array: what families read column by column, and what :func:`gather`
    reads fastest.

    >>> column_major(np.array([1.0, 2.0]), np.array([[3.0, 4.0], [5.0, 6.0]])).tolist()
    [[1.0, 3.0, 4.0], [2.0, 5.0, 6.0]]
    """
    return np.concatenate([b[np.newaxis] if b.ndim == 1 else b.T for b in blocks]).T


def stack_columns(*blocks: np.ndarray) -> np.ndarray:
    """The columns of ``blocks`` (1-D arrays and 2-D column blocks of equal length) side by side
    in one row-major array, as ``np.column_stack`` (one C call, no Python-level helpers: these
    run a few times per build, where a single educator's build is mostly call overhead).

    >>> stack_columns(np.array([1.0, 2.0]), np.array([[3.0, 4.0], [5.0, 6.0]])).tolist()
    [[1.0, 3.0, 4.0], [2.0, 5.0, 6.0]]
    """
    return np.concatenate([b[:, np.newaxis] if b.ndim == 1 else b for b in blocks], axis=1)


def filled(shape, value, dtype=np.float64) -> np.ndarray:
    """A new array of ``shape`` holding ``value``: ``np.full`` in two C calls (``np.full`` is
    Python, which a single educator's build pays a few dozen times).

    >>> filled(2, -1, np.int64).tolist()
    [-1, -1]
    """
    out = np.empty(shape, dtype=dtype)
    out.fill(value)
    return out


def days_since(at: np.ndarray, sorted_times: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Days from the record at ``pos`` (ns times) to ``at`` (ns), NaN where ``pos`` is -1."""
    return np.where(pos >= 0, (at - gather(sorted_times, pos, 0)) / NS_PER_DAY, np.nan)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere (no history means missing, not zero)."""
    out = filled(num.shape, np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def to_ns(times) -> np.ndarray:
    """UTC nanoseconds since the epoch of datetimes (tz-aware or naive-as-UTC): a Series, an
    Index, or a column's values (:func:`~.door.column_values`)."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)
    values = times.array if isinstance(times, (pd.Series, pd.Index)) else times
    if values.unit == "ns":
        return values.asi8
    # the integers in the array's own unit, scaled (cheaper than a converted copy of the array)
    scale = _NS_PER_UNIT[values.unit]
    raw = values.asi8
    if len(raw) and np.maximum.reduce(np.abs(raw)) > _INT64_MAX // scale:
        return values.as_unit("ns").asi8  # raises OutOfBoundsDatetime, naming the value
    return raw * scale
