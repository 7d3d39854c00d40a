"""Parsing a batch's columns once, vectorized: text stripped, numbers parsed, times located.

Nothing here rejects a row: it only records, per column, what the checks of
:mod:`recommender.evidence.checks` need (values, missing masks, values of the wrong type).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recommender.evidence.contract import TEXT_COLUMNS
from recommender.fields import non_text

_SURROGATE = re.compile("[\ud800-\udfff]")


def records_frame(records: list[Mapping[str, Any]]) -> pd.DataFrame:
    """Records as a frame, dtypes inferred; all-object columns when a value holds a lone
    surrogate (pandas' text dtype cannot hold one; the validation rejects those rows)."""
    rows = [r if isinstance(r, dict) else dict(r) for r in records]
    try:
        return pd.DataFrame(rows, index=pd.RangeIndex(len(rows)))
    except UnicodeEncodeError:
        return pd.DataFrame(rows, index=pd.RangeIndex(len(rows)), dtype=object)


def _strings(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``col`` as pandas text, and a mask of the values holding a lone surrogate.

    A lone surrogate (possible in JSON such as ``"\\ud800"``) is not Unicode text: it can be
    neither stored nor sent back, so those values become U+FFFD here and the mask lets the
    caller reject them. The per-value scan only runs when the fast conversion fails.
    """
    try:
        return col.astype("str"), np.zeros(len(col), dtype=bool)
    except UnicodeEncodeError:
        bad = col.map(lambda v: isinstance(v, str) and _SURROGATE.search(v) is not None)
        bad = bad.fillna(False).astype(bool)
        return col.mask(bad, "\ufffd").astype("str"), bad.to_numpy()


def stripped_text(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``col`` as stripped text (pandas' str dtype; missing and empty become NaN), and the mask
    of values that held a lone surrogate (see :func:`_strings`)."""
    strings, surrogate = _strings(col)
    out = strings.where(col.notna()).str.strip()
    return out.where(out != ""), surrogate


def number_text(values: pd.Series) -> pd.Series:
    """Numbers as short text: integral values without ``.0`` (``7`` rather than ``7.0``)."""
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    out = values.astype("str").to_numpy(dtype=object)
    whole = np.isfinite(arr) & (np.abs(arr) < 1e15)
    whole[whole] = arr[whole] == np.round(arr[whole])
    out[whole] = arr[whole].astype(np.int64).astype(str)
    return pd.Series(out, index=values.index, dtype="str")


@dataclass(frozen=True)
class Numbers:
    """A numeric column parsed: ``values`` as float (NaN when missing or not a number),
    ``missing`` (absent or empty) and ``text``, the raw values as text (None when the column
    held numbers already, or was absent)."""

    values: np.ndarray
    missing: np.ndarray
    text: pd.Series | None


def parse_numbers(col: pd.Series | None, n: int) -> Numbers:
    """Parse a numeric column of ``n`` rows (None: the column is absent)."""
    if col is None:
        return Numbers(np.full(n, np.nan), np.ones(n, dtype=bool), None)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return Numbers(values, np.isnan(values), None)
    text, _ = stripped_text(col)  # a surrogate becomes U+FFFD: "not a number"
    # parse each distinct text once: scores and scales repeat a handful of values
    codes, uniques = pd.factorize(text)
    parsed = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce")
    lookup = np.append(parsed.to_numpy(dtype=float, na_value=np.nan), np.nan)  # code -1: missing
    return Numbers(lookup[codes], codes < 0, text)


@dataclass(frozen=True)
class Times:
    """The ``observed_at`` column located: ``col`` as given (None when absent), whether it holds
    datetimes already, ``text`` (its stripped text, None when absent or datetimes) and
    ``missing``."""

    col: pd.Series | None
    is_datetime: bool
    text: pd.Series | None
    missing: np.ndarray


@dataclass(frozen=True)
class BatchColumns:
    """One batch's columns, parsed once for every check.

    ``raw`` holds the text columns present, as given; ``text`` every text column stripped (NaN
    when missing, empty or not a string); ``wrong_type`` marks values that are not strings and
    ``surrogate`` those that held a lone surrogate. ``scales`` maps ``scale_min`` and
    ``scale_max`` to their parsed numbers.
    """

    n: int
    index: pd.RangeIndex
    raw: dict[str, pd.Series]
    text: dict[str, pd.Series]
    wrong_type: dict[str, np.ndarray]
    surrogate: dict[str, np.ndarray]
    score: Numbers
    scales: dict[str, Numbers]
    observed_at: Times


def _column(data: pd.DataFrame, index: pd.RangeIndex, name: str) -> pd.Series | None:
    if name not in data.columns:
        return None
    col = data[name]
    if isinstance(col, pd.DataFrame):  # duplicated column label: the first one counts
        col = col.iloc[:, 0]
    return col.set_axis(index)  # a new Series sharing data (copy-on-write): input untouched


def _times(col: pd.Series | None, n: int) -> Times:
    if col is None:
        return Times(None, False, None, np.ones(n, dtype=bool))
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return Times(col, True, None, col.isna().to_numpy())
    text = stripped_text(col)[0]
    return Times(col, False, text, text.isna().to_numpy())


def parse_columns(data: pd.DataFrame) -> BatchColumns:
    """Parse the columns of ``data`` (not modified) that the checks read."""
    n = len(data)
    index = pd.RangeIndex(n)
    # text fields: strings only (a number, boolean, object or array is never turned into text)
    text, raw, wrong_type, surrogate = {}, {}, {}, {}
    for name in TEXT_COLUMNS:
        col = _column(data, index, name)
        if col is None:
            text[name] = pd.Series(np.nan, index=index, dtype="str")
            wrong_type[name] = surrogate[name] = np.zeros(n, dtype=bool)
            continue
        raw[name] = col
        wrong_type[name] = non_text(col)
        text[name], surrogate[name] = stripped_text(
            col.mask(wrong_type[name]) if wrong_type[name].any() else col
        )
    return BatchColumns(
        n=n,
        index=index,
        raw=raw,
        text=text,
        wrong_type=wrong_type,
        surrogate=surrogate,
        score=parse_numbers(_column(data, index, "score"), n),
        scales={name: parse_numbers(_column(data, index, name), n)
                for name in ("scale_min", "scale_max")},
        observed_at=_times(_column(data, index, "observed_at"), n),
    )
