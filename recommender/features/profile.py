"""``prof_``: the educator's profile.

``prof_years_experience`` (float) and ``prof_role``, ``prof_subject``, ``prof_grade_band``
(categorical over the values seen by ``FeatureBuilder.fit``; other values, unknown educators and
missing profiles become missing). They do not depend on time: a profile is what it is now.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.features.asof import filled
from recommender.features.door import column_at, column_values
from recommender.features.lookup import Lookup

__all__ = ["CATEGORICALS", "codes", "dtypes", "levels"]

CATEGORICALS = ("role", "subject", "grade_band")


def levels(educators: pd.DataFrame | None) -> dict[str, list[str]]:
    """The sorted values of each categorical profile column (none without profiles)."""
    return {
        col: sorted(educators[col].dropna().astype(str).unique())
        if educators is not None and col in educators
        else []
        for col in CATEGORICALS
    }


def dtypes(profile_levels: dict[str, list[str]]) -> dict[str, pd.CategoricalDtype]:
    """The category dtype of each categorical profile column, from :func:`levels`."""
    return {col: pd.CategoricalDtype(pd.Index(values, dtype=object))
            for col, values in profile_levels.items()}


def codes(educators: pd.DataFrame | None, lookups: dict[str, Lookup], ids: np.ndarray,
          of_query: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``prof_years_experience`` and the category codes (-1: missing) of each categorical
    profile column, per query whose educator is ``ids[of_query]``; ``lookups[col]`` gives a
    value's category code (the first profile row of an id counts; unknown ids are missing).
    Each distinct id is looked up once."""
    # per distinct educator first (only the profile rows found are read), then per query
    if educators is None or not len(educators):
        rows, have = filled(len(ids), -1, np.int64), ()
    else:
        rows = Lookup(column_values(educators, "educator_id")).positions(ids)
        have = educators.columns
    hit = rows >= 0
    found = rows[hit]
    years = filled(len(ids), np.nan)
    if "years_experience" in have:
        years[hit] = _numbers(column_at(educators, "years_experience", found))
    levels = filled((len(CATEGORICALS), len(ids)), -1, np.int64)
    for k, col in enumerate(CATEGORICALS):
        if col in have and len(lookups[col].keys):
            levels[k, hit] = lookups[col].positions(column_at(educators, col, found))
    levels = levels.take(of_query, axis=1)
    return years.take(of_query), dict(zip(CATEGORICALS, levels, strict=True))


def _numbers(column) -> np.ndarray:
    """A profile column's values (:func:`~.door.column_values`) as floats, NaN where missing or
    not a number."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "iuf":  # NumPy numbers
        return column.astype(float)
    return pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(dtype=float,
                                                                      na_value=np.nan)
