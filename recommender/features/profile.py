"""``prof_``: the educator's profile.

``prof_years_experience`` (float) and ``prof_role``, ``prof_subject``, ``prof_grade_band``
(categorical over the values seen by ``FeatureBuilder.fit``; other values, unknown educators and
missing profiles become missing). They do not depend on time: a profile is what it is now.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.features.context import object_index

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


def codes(educators: pd.DataFrame | None, profile_dtypes: dict[str, pd.CategoricalDtype],
          ids: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``prof_years_experience`` and the category codes (-1: missing) of each categorical
    profile column, for each query's educator id in ``ids`` (the first profile row of an id
    counts; unknown ids are missing)."""
    n = len(ids)
    if educators is None or not len(educators):
        rows = np.full(n, -1, dtype=np.int64)
        educators = pd.DataFrame(columns=["educator_id"])
    else:
        who = object_index(educators["educator_id"])
        first = np.arange(len(who)) if who.is_unique else np.flatnonzero(~who.duplicated())
        at = (who if who.is_unique else who[first]).get_indexer(object_index(ids))
        rows = np.where(at >= 0, first[at], -1)
    hit = rows >= 0
    years = np.full(n, np.nan)
    if "years_experience" in educators:
        values = pd.to_numeric(educators["years_experience"], errors="coerce").to_numpy(float)
        years[hit] = values[rows[hit]]
    out = {}
    for col in CATEGORICALS:
        categories = profile_dtypes[col].categories
        c = np.full(n, -1, dtype=np.int64)
        if col in educators and len(categories):
            own = categories.get_indexer(object_index(educators[col]))
            c[hit] = own[rows[hit]]
        out[col] = c
    return years, out
