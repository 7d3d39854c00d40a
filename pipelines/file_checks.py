"""Row checks of the completions and educator-profile files that training reads beside evidence.

Evidence has its contract and validator (:mod:`recommender.evidence`); these two companions are
checked the same way, vectorized over columns and one row at a time in the outcome: every bad
row is rejected once, under the first check it fails, with the field, the value and the reason,
and the good rows beside it are kept. Rows count from 0 (the first data row), as in the
evidence contract.

Completions (one row per completed activity): ``educator_id`` and ``activity_id`` (ids of the
field contract, :data:`recommender.fields.ADDRESSABLE_ID`), ``completed_at`` (ISO 8601 text or a
timestamp; naive is UTC; within :func:`recommender.fields.time_window`). Checks, in order:
``missing``, ``not_text``, ``bad_id``, ``unknown_activity`` (only with a catalog), ``bad_timestamp``,
``timestamp_out_of_window``, ``duplicate`` (the same educator, activity and time as a row kept
earlier).

Educator profiles (one row per educator): ``educator_id`` required; optional ``years_experience``
(a number >= 0), ``role``, ``subject``, ``grade_band`` (text; the feature builder's profile
columns) and ``goals`` (competency ids separated by ``|``). Checks: ``missing``, ``not_text``,
``bad_id``, ``bad_number``, ``duplicate`` (an educator id seen in an earlier kept row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.evidence.parse import stripped_text
from recommender.evidence.rejections import Rejections, quoted
from recommender.fields import (
    ADDRESSABLE_ID,
    non_text,
    not_a_string,
    parse_times,
    problems,
    shown,
    time_window,
    window_text,
)

__all__ = ["COMPLETION_COLUMNS", "PROFILE_COLUMNS", "check_completions", "check_profiles"]

COMPLETION_COLUMNS = ("educator_id", "activity_id", "completed_at")
"""The columns a completions file must have."""

PROFILE_COLUMNS = ("educator_id", "years_experience", "role", "subject", "grade_band", "goals")
"""The columns an educator-profiles file may have (``educator_id`` required)."""

_REJECTION_COLUMNS = ["row", "field", "value", "reason"]


def _require(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing required column(s) {missing}; expected "
                         f"{list(required)}; got {[str(c) for c in frame.columns]}")


def _text(rej: Rejections, frame: pd.DataFrame, name: str, *, required: bool,
          rule=None) -> pd.Series:
    """Column ``name`` as stripped text; rejects missing (if required), non-text and bad ids."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="str")
    raw = frame[name]
    wrong = non_text(raw)
    text, surrogate = stripped_text(raw.where(~wrong))
    if required:
        rej.reject(text.isna().to_numpy() & ~wrong, name, "",
                   f"required field {name} is missing or empty")
    rej.reject(wrong, name, lambda rows: raw.iloc[rows].map(shown),
               lambda rows, v: raw.iloc[rows].map(lambda x: not_a_string(name, x)))
    if rule is not None:
        why = problems(text, name, rule)
        bad = why.notna().to_numpy() | surrogate
        rej.reject(bad, name, text, lambda rows, v: why.iloc[rows].fillna(
            f"{name} holds a lone surrogate; {rule.describe()}"))
    return text


def _rejections(rej: Rejections, n: int) -> pd.DataFrame:
    out = rej.frame(pd.Series(np.nan, index=pd.RangeIndex(n), dtype=object))
    return out[_REJECTION_COLUMNS]


def check_completions(frame: pd.DataFrame, *, activities=None, now=None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(valid, rejections)`` of a completions frame; ``valid`` has :data:`COMPLETION_COLUMNS`
    (``completed_at`` as UTC timestamps), ``rejections`` ``row, field, value, reason``.

    ``activities`` are the catalog's activity ids (None: any activity); ``now`` bounds the time
    window (default: the current time). A frame without a required column is a ``ValueError``.
    """
    _require(frame, COMPLETION_COLUMNS, "completions")
    frame = frame.reset_index(drop=True)
    rej = Rejections(len(frame), None)
    who = _text(rej, frame, "educator_id", required=True, rule=ADDRESSABLE_ID)
    what = _text(rej, frame, "activity_id", required=True, rule=ADDRESSABLE_ID)
    raw_at = frame["completed_at"]
    is_dt = pd.api.types.is_datetime64_any_dtype(raw_at.dtype)
    wrong_at = np.zeros(len(frame), bool) if is_dt else non_text(raw_at)
    at_text = raw_at if is_dt else stripped_text(raw_at.where(~wrong_at))[0]
    rej.reject(at_text.isna().to_numpy() & ~wrong_at, "completed_at", "",
               "required field completed_at is missing or empty")
    rej.reject(wrong_at, "completed_at", lambda rows: raw_at.iloc[rows].map(shown),
               "completed_at must be an ISO 8601 string or a timestamp")
    if activities is not None:
        known = pd.Index(pd.unique(np.asarray(list(activities), dtype=object)))
        rej.reject(what.notna().to_numpy() & ~what.isin(known).to_numpy(), "activity_id", what,
                   lambda rows, v: "activity_id " + quoted(v) + " is not an activity of the "
                   f"catalog ({len(known)} activities)")
    window = time_window(now)
    check = parse_times(at_text, window)
    if not is_dt:
        rej.reject(check.not_iso, "completed_at", at_text,
                   lambda rows, v: "completed_at " + quoted(v) + " is not an ISO 8601 timestamp "
                   "(e.g. 2024-03-01T14:30:00Z; without an offset it is UTC)")
    rej.reject(check.outside, "completed_at", at_text.astype("str"),
               lambda rows, v: "completed_at " + quoted(v) + " is outside the accepted window "
               + window_text(window))
    valid = pd.DataFrame({"educator_id": who, "activity_id": what, "completed_at": check.times})
    repeat = valid[~rej.failed].duplicated(keep="first").reindex(valid.index, fill_value=False)
    rej.reject(repeat.to_numpy(), "completed_at", valid["completed_at"].astype("str"),
               "the same educator, activity and completed_at as an earlier row")
    return valid[~rej.failed].reset_index(drop=True), _rejections(rej, len(frame))


def check_profiles(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(valid, rejections)`` of an educator-profiles frame; ``valid`` has
    :data:`PROFILE_COLUMNS` (absent optional columns missing), ``rejections`` ``row, field,
    value, reason``. A frame without ``educator_id`` is a ``ValueError``."""
    _require(frame, ("educator_id",), "educator profiles")
    frame = frame.reset_index(drop=True)
    rej = Rejections(len(frame), None)
    out = {"educator_id": _text(rej, frame, "educator_id", required=True, rule=ADDRESSABLE_ID)}
    years = (frame["years_experience"] if "years_experience" in frame.columns
             else pd.Series(np.nan, index=frame.index))
    raw_years = years
    if years.dtype == object:  # JSON: a boolean is not a number
        years = years.where(~years.map(lambda v: isinstance(v, bool), na_action="ignore")
                            .fillna(False).astype(bool), "not a number")
    elif pd.api.types.is_bool_dtype(years.dtype):
        years = years.astype("str")
    number = pd.to_numeric(years, errors="coerce")
    given = years.notna() & (years.astype("str").str.strip() != "")
    bad = (given & (number.isna() | ~np.isfinite(number.fillna(0)) | (number < 0))).to_numpy()
    rej.reject(bad, "years_experience", lambda rows: raw_years.iloc[rows].map(shown),
               lambda rows, v: "years_experience " + quoted(v) + " is not a number >= 0")
    out["years_experience"] = number.astype(float)
    for name in PROFILE_COLUMNS[2:]:
        out[name] = _text(rej, frame, name, required=False)
    valid = pd.DataFrame(out)
    repeat = valid["educator_id"].where(~rej.failed).duplicated(keep="first").to_numpy()
    rej.reject(repeat & ~rej.failed & valid["educator_id"].notna().to_numpy(), "educator_id",
               valid["educator_id"], lambda rows, v: "educator_id " + quoted(v)
               + " repeats an earlier row's; one profile per educator")
    return valid[~rej.failed].reset_index(drop=True), _rejections(rej, len(frame))
