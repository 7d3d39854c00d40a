"""Positions of values among a list of keys: strings to codes, at a small fixed cost per call.

Every serving build turns strings into codes (competency and source of each record, activity
of each completion, profile levels, educator ids). ``pandas.Index.get_indexer`` hashes, which
scales, but each call first needs an object Index of the values, and building one costs more
than the rest of the lookup for one educator's few rows (tens of microseconds each, about a
dozen lookups per build). :class:`Lookup` keeps a dict of its keys' first positions, built once;
few values are looked up in it (a few microseconds for a few dozen); many values are factorized
first (in C, on the Arrow array itself for a string column) and only the distinct ones looked
up, hashed by pandas when they are many too. All give the same positions.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from recommender.features.door import as_objects

__all__ = ["SMALL", "Lookup", "factorize"]

SMALL = 4096
"""Values per call up to which a lookup reads its dict of keys value by value instead of hashing
them all in pandas (one Python step a value, so pandas wins on many)."""


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pandas.factorize`` of an object array of ids (none missing): codes (int64) in order of
    first appearance, and the distinct values. Few values are coded through a dict (a few
    microseconds for one educator's records, against about 18 for pandas' hash table).

    >>> codes, uniques = factorize(np.array(["b", "a", "b"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['b', 'a'])
    """
    if len(values) > SMALL:
        codes, uniques = pd.factorize(values)
        return codes.astype(np.int64), np.asarray(uniques, dtype=object)
    seen: dict = {}
    codes = np.fromiter([seen.setdefault(v, len(seen)) for v in values.tolist()], np.int64,
                        len(values))
    uniques = np.empty(len(seen), dtype=object)
    uniques[:] = list(seen)
    return codes, uniques


class Lookup:
    """Positions of values among ``keys``; a repeated key answers with its first position.

    Keys and values match when they are equal and hash alike, as dict keys do (keys are ids and
    category levels, never missing).

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
    def _first(self) -> dict:
        """Each distinct key's first position (built backwards, so the first one stays)."""
        n = len(self.keys)
        return dict(zip(self.keys[::-1].tolist(), range(n - 1, -1, -1), strict=True))

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
            codes, distinct = pd.factorize(
                values if isinstance(values, (pd.Series, pd.Index, ExtensionArray))
                else as_objects(values))
            found = np.r_[self._positions(as_objects(distinct)), -1]  # code -1 (missing): -1
            return found[codes]
        return self._positions(as_objects(values))

    def _positions(self, values: np.ndarray) -> np.ndarray:
        """:meth:`positions` of an object array: the dict of first positions for few values,
        hashing by pandas for many."""
        if len(values) <= SMALL:
            first = self._first.get
            return np.fromiter([first(v, -1) for v in values.tolist()], np.int64, len(values))
        index, first = self._hashed
        at = index.get_indexer(pd.Index(values, dtype=object))
        return np.r_[first, -1][at].astype(np.int64)  # at -1 (not found): -1
