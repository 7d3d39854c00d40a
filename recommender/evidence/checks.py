"""The row checks of :data:`~recommender.evidence.contract.CHECKS`, vectorized over a batch.

Each function runs one family of checks over parsed columns and records its rejections; they
must run in the order of this module (the order of ``CHECKS``), since a row is rejected by the
first check it fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.evidence.contract import OBSERVED_AT_DTYPE, REQUIRED_COLUMNS, TEXT_COLUMNS
from recommender.evidence.parse import BatchColumns, number_text
from recommender.evidence.rejections import Rejections, quoted
from recommender.fields import (
    ADDRESSABLE_ID,
    EVIDENCE_KEY,
    REFERENCE_ID,
    not_a_string,
    parse_times,
    problems,
    shown,
    time_window,
    window_text,
)
from recommender.graph.framework import DEFAULT_SCALE

_ID_RULES = {"evidence_id": EVIDENCE_KEY, "educator_id": ADDRESSABLE_ID,
             "rater_id": REFERENCE_ID, "activity_id": ADDRESSABLE_ID}
"""The field contract (:mod:`recommender.fields`) of each id column; ``competency_id`` and
``source`` need none: they must be one of the framework's ids and of the sources."""
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def check_missing(rej: Rejections, cols: BatchColumns) -> None:
    """``missing``: required fields absent or empty, in :data:`REQUIRED_COLUMNS` order."""
    missing = {name: cols.text[name].isna().to_numpy() & ~cols.wrong_type[name]
               for name in REQUIRED_COLUMNS[:4]}
    missing["score"] = cols.score.missing
    missing["observed_at"] = cols.observed_at.missing
    for name in REQUIRED_COLUMNS:
        rej.reject(missing[name], name, "",
                   f"required field {name} is missing or empty; every evidence row needs "
                   + ", ".join(REQUIRED_COLUMNS))


def check_not_text(rej: Rejections, cols: BatchColumns) -> None:
    """``not_text``: text fields holding a number, a boolean, an object or an array."""
    raw = cols.raw
    for name in TEXT_COLUMNS:
        rej.reject(cols.wrong_type[name], name,
                   lambda rows, name=name: raw[name].iloc[rows].map(shown),
                   lambda rows, v, name=name: raw[name].iloc[rows].map(
                       lambda x, name=name: not_a_string(name, x)))


def check_ids(rej: Rejections, cols: BatchColumns) -> np.ndarray:
    """``bad_id``: ids against the field contract (length, characters, addressable).

    Returns the mask of rows whose ``evidence_id`` is no usable id.
    """
    raw, text, surrogate = cols.raw, cols.text, cols.surrogate
    bad_ids = {}
    for name, rule in _ID_RULES.items():
        rej.reject(surrogate[name], name, lambda rows, name=name: raw[name].iloc[rows].map(shown),
                   f"{name} contains a lone surrogate (an unpaired UTF-16 escape such as \\ud800), "
                   "which is not Unicode text")
        why = problems(text[name], name, rule)
        bad_ids[name] = why.notna().to_numpy() | surrogate[name] | cols.wrong_type[name]
        rej.reject(bad_ids[name], name, text[name], lambda rows, v, why=why: why.iloc[rows])
    return bad_ids["evidence_id"]


def check_known(
    rej: Rejections,
    cols: BatchColumns,
    *,
    competencies: list[str],
    educators: list[str] | None,
    sources: list[str],
) -> None:
    """``unknown_competency``, ``unknown_educator`` (only if ``educators`` is given) and
    ``unknown_source``: ids and source against the known sets."""
    comp = cols.text["competency_id"]
    rej.reject(~comp.isin(competencies).to_numpy(), "competency_id", comp,
               lambda rows, v: "unknown competency id " + quoted(v) + ": not in the framework")
    if educators is not None:
        edu = cols.text["educator_id"]
        rej.reject(~edu.isin(educators).to_numpy(), "educator_id", edu,
                   lambda rows, v: "unknown educator id " + quoted(v) + ": not a known educator")
    src = cols.text["source"]
    allowed = ", ".join(sources)
    rej.reject(~src.isin(sources).to_numpy(), "source", src,
               lambda rows, v: "unknown source " + quoted(v) + "; expected one of: " + allowed)


def check_score(rej: Rejections, cols: BatchColumns) -> tuple[np.ndarray, np.ndarray]:
    """``score_not_number``, ``scale_not_number``, ``scale_order`` and ``score_out_of_scale``.

    Returns every row's scale bounds ``(scale_min, scale_max)``, defaults filled in.
    """
    score = cols.score.values
    score_series = pd.Series(score, index=cols.index)
    rej.reject(np.isnan(score), "score",
               cols.score.text if cols.score.text is not None
               else lambda rows: number_text(score_series.iloc[rows]),
               lambda rows, v: "score " + quoted(v) + " is not a number")
    bounds = {}
    for name, default in (("scale_min", DEFAULT_SCALE["min"]), ("scale_max", DEFAULT_SCALE["max"])):
        parsed = cols.scales[name]
        values = parsed.values
        rej.reject(~parsed.missing & ~np.isfinite(values), name,
                   parsed.text if parsed.text is not None
                   else lambda rows, values=values: number_text(pd.Series(values[rows])),
                   lambda rows, v, name=name: name + " " + quoted(v) + " is not a finite number")
        bounds[name] = np.where(parsed.missing, float(default), values)
    lo, hi = bounds["scale_min"], bounds["scale_max"]
    lo_s, hi_s = pd.Series(lo, index=cols.index), pd.Series(hi, index=cols.index)
    with np.errstate(invalid="ignore"):
        rej.reject(~(lo < hi), "scale_min", lambda rows: number_text(lo_s.iloc[rows]),
                   lambda rows, v: "scale_min " + v + " must be below scale_max "
                   + number_text(hi_s.iloc[rows]).to_numpy())
        rej.reject(~((score >= lo) & (score <= hi)), "score",
                   lambda rows: number_text(score_series.iloc[rows]),
                   lambda rows, v: "score " + v + " is outside its scale ["
                   + number_text(lo_s.iloc[rows]).to_numpy() + ", "
                   + number_text(hi_s.iloc[rows]).to_numpy() + "]")
    return lo, hi


def check_observed_at(
    rej: Rejections,
    cols: BatchColumns,
    *,
    now: pd.Timestamp,
    max_future: pd.Timedelta,
    earliest: pd.Timestamp,
) -> pd.Series:
    """``bad_timestamp`` and ``timestamp_out_of_window``: ISO 8601 text (or datetimes) within
    ``[earliest, now + max_future]``.

    Returns every row's ``observed_at`` as :data:`OBSERVED_AT_DTYPE` (NaT where it fails).
    """
    window = time_window(now, earliest=earliest, max_future=max_future)
    times = cols.observed_at
    if times.col is None:
        return pd.Series(pd.NaT, index=cols.index, dtype=OBSERVED_AT_DTYPE)
    check = parse_times(times.col if times.is_datetime else times.text, window)
    if times.is_datetime:
        def given(rows: np.ndarray) -> pd.Series:
            return pd.to_datetime(times.col.iloc[rows], utc=True).dt.strftime(_ISO_FORMAT)
    else:
        rej.reject(check.not_iso, "observed_at", times.text,
                   lambda rows, v: "observed_at " + quoted(v) + " is not an ISO 8601 "
                   "timestamp (e.g. 2024-03-01T14:30:00Z; without an offset it is UTC)")
        given = times.text
    rej.reject(check.outside, "observed_at", given,
               lambda rows, v: "observed_at " + quoted(v) + " is outside the accepted window "
               + window_text(window, max_future))
    return check.times


def check_repeats(rej: Rejections, evidence_ids: pd.Series, existing_ids: list[str] | None) -> None:
    """``already_ingested`` and ``duplicate``: idempotency, within the store and the batch.

    Only rows that passed every other check take part in ``duplicate``, so the first *valid*
    occurrence of an id is kept.
    """
    ev = evidence_ids
    if existing_ids:
        rej.reject(ev.isin(existing_ids).to_numpy(), "evidence_id", ev,
                   lambda rows, v: "evidence_id " + quoted(v) + " was already ingested")
    kept_ids = ev[~rej.failed]
    repeat = kept_ids.duplicated(keep="first").to_numpy()
    if not repeat.any():
        return
    repeated = kept_ids[repeat]
    firsts = kept_ids[~repeat & kept_ids.isin(repeated.unique()).to_numpy()]
    first_row = pd.Series(firsts.index, index=firsts.to_numpy())
    mask = np.zeros(len(ev), dtype=bool)
    mask[repeated.index] = True
    rej.reject(mask, "evidence_id", ev,
               lambda rows, v: "evidence_id " + quoted(v) + " repeats row "
               + first_row.reindex(v.to_numpy()).astype("str").to_numpy()
               + " of this batch; the first occurrence is kept")
