"""Reading the input frames' columns at the door, without a Series per column.

A serving build for one educator reads about fifteen columns of its evidence, completions and
profile frames. ``frame[name]`` costs about 18 us in pandas 3 (a new Series, with the reference
tracking copy-on-write needs), more than the rest of the read for a few dozen rows; the array
pandas already holds for the column costs about 1.5 us. :func:`column_values` returns that array,
through ``DataFrame._get_column_array`` (a private method, present since pandas 1.3; the door's
tests compare every dtype the builder reads with ``frame[name]``, so a pandas that changes it
fails them). NumPy arrays come back read-only views, as ``Series.to_numpy`` gives them under
copy-on-write.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

__all__ = ["as_objects", "column_array", "column_at", "column_values"]

SHORT_COLUMN = 512
"""Rows up to which :func:`column_at` reads an Arrow string column whole as objects rather than
through Arrow's ``take`` (about 50 us a call whatever the rows; 4-23 us for 1-300 rows read
whole; one educator's profile lookup made three of them)."""


def column_values(frame: pd.DataFrame, name: str) -> np.ndarray | ExtensionArray:
    """The values of column ``name`` of ``frame`` as pandas holds them: a NumPy array, or an
    ExtensionArray (Arrow-backed strings, tz-aware datetimes, nullable numbers, categoricals).

    The same values as ``frame[name].array`` (a KeyError names a missing column, as there); a
    name that several columns share is refused (``frame[name]`` would be a frame).

    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    >>> column_values(frame, "a").tolist(), list(column_values(frame, "b"))
    ([1.0, 2.0], ['x', 'y'])
    """
    at = frame.columns.get_loc(name)
    if not isinstance(at, (int, np.integer)):
        raise ValueError(f"column {name!r} appears more than once in the frame; expected one "
                         f"column of that name")
    values = frame._get_column_array(at)
    if isinstance(values, np.ndarray):
        values = values.view()
        values.flags.writeable = False
    return values


def column_at(frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray | ExtensionArray:
    """Column ``name``'s values at the positions ``rows``: :func:`column_values` taken at
    ``rows``, except that an Arrow string column of at most :data:`SHORT_COLUMN` rows is
    read whole as objects first (Arrow's ``take`` has a fixed cost that dominates short
    columns; a long one keeps Arrow's array, which factorizes faster than objects).

    >>> column_at(pd.DataFrame({"b": ["x", "y", "z"]}), "b", np.array([2, 0])).tolist()
    ['z', 'x']
    """
    values = column_values(frame, name)
    if (isinstance(values, ExtensionArray) and isinstance(values.dtype, pd.StringDtype)
            and len(values) <= SHORT_COLUMN):
        return as_objects(values)[rows]
    return values[rows]


def column_array(frame: pd.DataFrame, name: str, dtype=None) -> np.ndarray:
    """Column ``name`` of ``frame`` as a NumPy array, as ``frame[name].to_numpy(dtype)``.

    >>> column_array(pd.DataFrame({"ok": [True, False]}), "ok", bool).tolist()
    [True, False]
    """
    values = column_values(frame, name)
    if isinstance(values, np.ndarray):
        return values if dtype is None else np.asarray(values, dtype=dtype)
    if dtype in (None, object) and isinstance(values.dtype, pd.StringDtype):
        return as_objects(values)
    return values.to_numpy(dtype=dtype)


def as_objects(values) -> np.ndarray:
    """``values`` (a Series, Index, ExtensionArray or other array-like) as a 1-D object array,
    missing values as pandas gives them.

    Arrow-backed strings without missing values are converted by Arrow itself, through the
    array's ``__arrow_array__`` (about 2 us for a few dozen, against 5-7 us through pandas).
    """
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values, ExtensionArray):
        arrow = getattr(values, "__arrow_array__", None)
        if arrow is not None and isinstance(values.dtype, pd.StringDtype):
            chunks = arrow()
            if chunks.null_count == 0:
                return np.asarray(chunks.to_numpy(zero_copy_only=False), dtype=object)
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)
