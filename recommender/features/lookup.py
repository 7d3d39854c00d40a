"""Positions of values among a list of keys: strings to codes, at a small fixed cost per call.

Every serving build turns strings into codes (competency and source of each record, activity
of each completion, profile levels, educator ids). ``pandas.Index.get_indexer`` hashes, which
scales, but each call first needs an object Index of the values, and building one costs more
than the rest of the lookup for one educator's few rows (tens of microseconds each, about a
dozen lookups per build). :class:`Lookup` sorts its keys once; few values that are all strings
are then one ``searchsorted`` and one comparison (no Index built); few values of other kinds
(missing, not strings) are hashed; many values are factorized first and only the distinct ones
looked up. All give the same positions.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

__all__ = ["SMALL", "Lookup", "as_objects"]

SMALL = 4096
"""Values per call up to which a lookup searches sorted keys instead of hashing (a binary search
of object keys compares strings in Python, so hashing wins on many values)."""


def as_objects(values) -> np.ndarray:
    """``values`` (a Series, Index or array-like) as a 1-D object array."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def _strings(values: np.ndarray) -> bool:
    """Whether every element of an object array is a ``str`` (no missing values)."""
    return pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty")


class Lookup:
    """Positions of values among ``keys``; a repeated key answers with its first position.

    Parameters
    ----------
    keys : array-like
        The keys, in the order their positions count (e.g. the categories of a dtype).

    Examples
    --------
    >>> Lookup(["b", "a", "b"]).positions(["a", "b", "c"]).tolist()
    [1, 0, -1]
    """

    def __init__(self, keys):
        self.keys = as_objects(keys)

    @functools.cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The keys sorted (equal keys in their order) and their positions, or None when not
        every key is a string (the search path needs keys that compare as strings)."""
        if not _strings(self.keys):
            return None
        order = np.argsort(self.keys, kind="stable")
        return self.keys[order], order

    @functools.cached_property
    def _hashed(self) -> tuple[pd.Index, np.ndarray]:
        """The distinct keys as an Index and the position of each one's first occurrence."""
        index = pd.Index(self.keys, dtype=object)
        if index.is_unique:
            return index, np.arange(len(index))
        first = np.flatnonzero(~index.duplicated())
        return index[first], first

    def positions(self, values) -> np.ndarray:
        """Per value, the position of its first equal key, or -1 (int64).

        Many values are factorized first (in C, and on the Arrow array itself for a string
        column) and only their distinct values looked up: a column of a few dozen competency
        ids repeated over a million records costs one factorization, not a million hashes of
        Python strings.
        """
        if len(self.keys) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        if len(values) > SMALL:
            codes, distinct = pd.factorize(values if isinstance(values, (pd.Series, pd.Index))
                                           else as_objects(values))
            found = np.r_[self._positions(as_objects(distinct)), -1]  # code -1 (missing): -1
            return found[codes]
        return self._positions(as_objects(values))

    def _positions(self, values: np.ndarray) -> np.ndarray:
        """:meth:`positions` of an object array: a search of the sorted keys when the values are
        few strings, hashing otherwise."""
        if len(values) <= SMALL and _strings(values) and self._sorted is not None:
            keys, order = self._sorted
            at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
            return np.where(keys[at] == values, order[at], -1).astype(np.int64)
        index, first = self._hashed
        at = index.get_indexer(pd.Index(values, dtype=object))
        return np.r_[first, -1][at].astype(np.int64)  # at -1 (not found): -1
