"""``prof_``: the educator's profile.

``prof_years_experience`` (float) and ``prof_role``, ``prof_subject``, ``prof_grade_band``
(categorical over the values seen by ``FeatureBuilder.fit``; other values, unknown educators and
missing profiles become missing). They do not depend on time: a profile is what it is now.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CATEGORICALS", "columns", "dtypes", "levels"]

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


def columns(educators: pd.DataFrame | None, profile_dtypes: dict[str, pd.CategoricalDtype],
            ids: np.ndarray) -> dict[str, object]:
    """Profile columns for each query's educator id in ``ids``."""
    if educators is None:
        educators = pd.DataFrame(columns=["educator_id"])
    prof = educators.drop_duplicates("educator_id").set_index("educator_id")
    prof = prof.reindex(pd.Index(ids, dtype=object))
    out: dict[str, object] = {
        "prof_years_experience": (
            pd.to_numeric(prof["years_experience"], errors="coerce").to_numpy(float)
            if "years_experience" in prof else np.full(len(ids), np.nan)
        )
    }
    for col in CATEGORICALS:
        dtype = profile_dtypes[col]
        values = prof[col].to_numpy(dtype=object) if col in prof else np.full(len(ids), None)
        out[f"prof_{col}"] = pd.Categorical.from_codes(
            dtype.categories.get_indexer(values) if len(dtype.categories)
            else np.full(len(ids), -1),
            dtype=dtype,
        )
    return out
