"""The columns of one feature build, held as arrays: as the feature frame, or as a model's matrix.

:meth:`FeatureBuilder._parts <recommender.features.builder.FeatureBuilder>` computes every
column once; :meth:`FeatureParts.frame` assembles the feature frame (identity, categorical and
history columns, one float block of the families' columns, the profile), and
:meth:`FeatureParts.matrix` writes the columns a model reads straight into a float matrix in the
model's order, categoricals as codes, without assembling a DataFrame. The two hold the same
numbers: the frame path and the matrix path of a model read identical inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features.context import Queries

__all__ = ["FeatureParts", "category_lookup"]

Coded = tuple[np.ndarray, pd.CategoricalDtype]
"""A categorical column as codes (-1: missing) and the dtype whose categories they index."""


def category_lookup(dtype: pd.CategoricalDtype, levels: Sequence) -> np.ndarray | None:
    """Maps codes of ``dtype`` to positions in ``levels`` (-1 where a category is not a level),
    or None when the categories are the levels themselves (codes are already positions).

    Remembered per (dtype, levels) object pair: a model's fitted levels and a builder's dtypes
    are fixed once fitted, and comparing them on every request cost more than the codes of a
    single educator's rows.
    """
    key = (id(dtype), id(levels))
    known = _LOOKUPS.get(key)
    if known is not None and known[0] is dtype and known[1] is levels:
        return known[2]
    found = (None if list(dtype.categories) == list(levels)
             else pd.Index(list(levels)).get_indexer(dtype.categories))
    if len(_LOOKUPS) >= 256:  # models reloaded many times leave old pairs behind
        _LOOKUPS.clear()
    _LOOKUPS[key] = (dtype, levels, found)  # the objects are kept, so their ids stay theirs
    return found


_LOOKUPS: dict[tuple[int, int], tuple[pd.CategoricalDtype, Sequence, np.ndarray | None]] = {}


@dataclass(frozen=True, eq=False)
class FeatureParts:
    """Every column of one build: the queries, the packed outcome history, the families' float
    columns (in frame order), the profile's years, and the categorical columns as codes."""

    q: Queries
    bits: np.ndarray
    length: np.ndarray
    numeric: dict[str, np.ndarray]
    prof_years: np.ndarray
    codes: dict[str, Coded]  # competency_id, source, domain (and the sequence context)
    prof_codes: dict[str, Coded]  # prof_role, prof_subject, prof_grade_band

    def frame(self) -> pd.DataFrame:
        """The feature frame: identity, categorical and history columns, then one float block
        of the numeric features, then the profile."""
        q = self.q
        head = pd.DataFrame(
            {
                "educator_id": q.educator_ids,
                "as_of": pd.DatetimeIndex(q.t.astype("datetime64[ns]"), tz="UTC"),
                **{name: pd.Categorical.from_codes(c, dtype=dtype)
                   for name, (c, dtype) in self.codes.items()},
                "hist_bits": self.bits.astype(np.int64),
                "hist_len": self.length.astype(np.int64),
            }
        )
        # One float block for the numeric features: building 50 columns one by one costs more
        # than the features themselves for a single educator.
        numeric = pd.DataFrame(np.column_stack(list(self.numeric.values())),
                               columns=list(self.numeric))
        profile = pd.DataFrame({
            "prof_years_experience": self.prof_years,
            **{name: pd.Categorical.from_codes(c, dtype=dtype)
               for name, (c, dtype) in self.prof_codes.items()},
        })
        return pd.concat([head, numeric, profile], axis=1)

    def matrix(self, columns: Sequence[str], levels: Mapping[str, Sequence],
               rows: slice = slice(None), out: np.ndarray | None = None) -> np.ndarray:
        """``columns`` of the queries ``rows`` as a column-major float64 matrix; categorical
        columns as codes against ``levels[column]`` when given (else the builder's categories),
        NaN where missing or not a level. An unknown column raises KeyError naming it.

        ``out``, a C-ordered ``(len(columns), rows)`` buffer, is filled and returned
        transposed instead of a new matrix (a caller predicting block by block reuses one
        buffer: a fresh matrix of a large batch costs a page fault per 4 KB before a value is
        written)."""
        # filled column by column as the rows of its transpose (contiguous writes) and returned
        # column-major: writing the columns of a row-major matrix is several times slower on a
        # large batch (every write lands on another cache line), a copy into row order costs as
        # much again, and LightGBM predicts from a column-major matrix as it is (same numbers,
        # about the same speed)
        n = len(range(*rows.indices(len(self.q.c))))
        if out is None:
            out = np.empty((len(columns), n), dtype=np.float64)
        coded = {**self.codes, **self.prof_codes}
        found = []
        for name in columns:
            if name in self.numeric:
                found.append(self.numeric[name][rows])
            elif name == "prof_years_experience":
                found.append(self.prof_years[rows])
            elif name in coded:
                codes, dtype = coded[name]
                found.append(_as_float_codes(codes[rows], dtype, levels.get(name)))
            else:
                raise KeyError(f"the feature builder makes no column {name!r}; it makes "
                               f"{[*coded, *self.numeric, 'prof_years_experience']}")
        if columns:  # one copy of every column (cast as an assignment casts), not one per column
            np.stack(found, out=out, casting="unsafe")
        return out.T

    def blocks(self, columns: Sequence[str], levels: Mapping[str, Sequence],
               block_rows: int) -> Iterator[np.ndarray]:
        """:meth:`matrix` in blocks of ``block_rows`` rows, in order (one empty block when there
        are no rows). Full blocks share one buffer: use each block before taking the next."""
        n = len(self.q.c)
        buffer = np.empty((len(columns), min(block_rows, n)), dtype=np.float64)
        for start in range(0, max(n, 1), block_rows):
            stop = min(start + block_rows, n)
            yield self.matrix(columns, levels, slice(start, stop),
                              buffer if stop - start == buffer.shape[1] else None)


def _as_float_codes(codes: np.ndarray, dtype: pd.CategoricalDtype,
                    levels: Sequence | None) -> np.ndarray:
    """Codes as floats against ``levels`` (NaN: missing or not a level)."""
    lookup = None if levels is None else category_lookup(dtype, levels)
    if lookup is not None:
        codes = np.where(codes >= 0, lookup.take(codes, mode="clip"), -1)
    return np.where(codes >= 0, codes, np.nan)
