"""Validating a batch of evidence: the arguments checked, the row checks run, the outcome built."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from recommender.errors import InvalidEvidenceError
from recommender.evidence.checks import (
    check_ids,
    check_known,
    check_missing,
    check_not_text,
    check_observed_at,
    check_repeats,
    check_score,
)
from recommender.evidence.contract import REQUIRED_COLUMNS, SOURCES, EvidenceValidation
from recommender.evidence.frame import valid_frame
from recommender.evidence.normalize import DEFAULT_PROFICIENT_AT
from recommender.evidence.parse import parse_columns, records_frame
from recommender.evidence.rejections import Rejections
from recommender.fields import EARLIEST, MAX_FUTURE, shown

NO_FUTURE_CHECK = pd.Timestamp.max.tz_localize("UTC") - pd.Timedelta(days=2)
"""A ``now`` for :func:`validate_evidence` that refuses no record as being in the future: for
recorded history (training data, benchmark sets), not for incoming evidence."""


def validate_evidence(
    data: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    competencies: Iterable[str],
    educators: Iterable[str] | None = None,
    sources: Iterable[str] = SOURCES,
    proficient_at: float = DEFAULT_PROFICIENT_AT,
    now: pd.Timestamp | str | None = None,
    max_future: pd.Timedelta | str = MAX_FUTURE,
    earliest: pd.Timestamp | str = EARLIEST,
    existing_ids: Iterable[str] | None = None,
) -> EvidenceValidation:
    """Validate and normalize a batch of evidence, keeping good rows and rejecting bad ones.

    Parameters
    ----------
    data : DataFrame or iterable of mappings
        One row (or record) per observation, in the schema of :data:`EVIDENCE_COLUMNS`; extra
        columns are ignored. A DataFrame must have every column of :data:`REQUIRED_COLUMNS`;
        records may lack keys (each such record is rejected). A record that is not a mapping is
        rejected with field ``"record"``. Not modified.
    competencies : iterable of str
        The competency ids of the framework (a framework graph works: it iterates its nodes).
    educators : iterable of str or None, default=None
        Known educator ids; None accepts any educator id.
    sources : iterable of str, default=SOURCES
        Allowed ``source`` values.
    proficient_at : float in [0, 1], default=2/3
        Normalized score at or above which a row is proficient; see :func:`proficient_threshold`.
    now : Timestamp or str or None, default=None
        The present, for the future-timestamp check; None means the current UTC time. Naive
        values are UTC.
    max_future : Timedelta or str, default=1 day
        How far past ``now`` an ``observed_at`` may lie (clock skew allowance).
    earliest : Timestamp or str, default=1970-01-01T00:00:00Z
        The earliest accepted ``observed_at`` (naive: UTC); see :mod:`recommender.fields`.
    existing_ids : iterable of str or None, default=None
        Evidence ids already ingested (e.g. from the store); rows reusing one are rejected.

    Returns
    -------
    EvidenceValidation
        ``valid`` and ``rejections``; ``len(valid) + len(rejections) == number of input rows``.

    Raises
    ------
    InvalidEvidenceError
        If a DataFrame lacks a required column (the error names the missing and the expected
        columns).
    TypeError, ValueError
        If an argument is malformed (e.g. ``proficient_at`` outside [0, 1]).

    Examples
    --------
    >>> rows = [
    ...     {"evidence_id": "e1", "educator_id": "t1", "competency_id": "INS.FA",
    ...      "source": "observation", "score": 3, "observed_at": "2024-03-01T10:00:00Z"},
    ...     {"evidence_id": "e2", "educator_id": "t1", "competency_id": "INS.FA",
    ...      "source": "observation", "score": 7, "observed_at": "2024-03-02T10:00:00Z"},
    ... ]
    >>> result = validate_evidence(rows, competencies=["INS.FA"])
    >>> result.valid[["evidence_id", "score_norm", "proficient"]].to_dict("records")
    [{'evidence_id': 'e1', 'score_norm': 0.6666666666666666, 'proficient': True}]
    >>> result.rejections.loc[0, "reason"]
    'score 7 is outside its scale [1, 4]'
    """
    options = check_options(
        competencies=competencies, educators=educators, sources=sources,
        proficient_at=proficient_at, now=now, max_future=max_future, earliest=earliest,
        existing_ids=existing_ids,
    )
    if isinstance(data, pd.DataFrame):
        missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
        if missing:
            raise InvalidEvidenceError(
                f"evidence is missing required column(s) {missing}; expected columns "
                f"{list(REQUIRED_COLUMNS)} (optional: scale_min, scale_max, rater_id, "
                f"activity_id); got {[str(c) for c in data.columns]}"
            )
        return validate_frame(data, pre_rejected=None, **options)
    if isinstance(data, str | bytes | os.PathLike):
        raise TypeError(
            "validate_evidence takes a DataFrame or an iterable of mappings; to read a file "
            "use read_evidence_csv or read_evidence_jsonl"
        )
    records: list[Mapping[str, Any]] = []
    pre: list[tuple[int, str, str, str]] = []
    for pos, rec in enumerate(data):
        if isinstance(rec, Mapping):
            records.append(rec)
        else:
            records.append({})
            pre.append((pos, "record", shown(repr(rec)),
                         f"record is a {type(rec).__name__}, expected a mapping of fields"))
    return validate_frame(records_frame(records), pre_rejected=pre, **options)


def check_options(
    *,
    competencies: Iterable[str],
    educators: Iterable[str] | None = None,
    sources: Iterable[str] = SOURCES,
    proficient_at: float = DEFAULT_PROFICIENT_AT,
    now: pd.Timestamp | str | None = None,
    max_future: pd.Timedelta | str = MAX_FUTURE,
    earliest: pd.Timestamp | str = EARLIEST,
    existing_ids: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Check the keyword arguments once and return them in the form the core uses."""

    def id_list(name: str, ids: Iterable[str] | None) -> list[str] | None:
        if ids is None:
            return None
        if isinstance(ids, str):
            raise TypeError(f"{name} must be an iterable of ids, not a single string {ids!r}")
        return list({str(i) for i in ids})

    if competencies is None:
        raise TypeError("competencies is required: the framework's competency ids")
    proficient_at = float(proficient_at)
    if not 0.0 <= proficient_at <= 1.0:
        raise ValueError(
            f"proficient_at must be a normalized score in [0, 1]; got {proficient_at!r}. "
            "Use proficient_threshold(scale) to convert a rubric threshold such as 3 of 1-4."
        )
    now_ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    max_future = pd.Timedelta(max_future)
    if max_future < pd.Timedelta(0):
        raise ValueError(f"max_future must not be negative; got {max_future}")
    earliest = pd.Timestamp(earliest)
    earliest = earliest.tz_localize("UTC") if earliest.tzinfo is None else earliest.tz_convert("UTC")
    if isinstance(sources, str):
        raise TypeError(f"sources must be an iterable of names, not a single string {sources!r}")
    source_list = list(dict.fromkeys(str(s) for s in sources))  # keeps the given order
    if not source_list:
        raise ValueError("sources must name at least one allowed source")
    return {
        "competencies": id_list("competencies", competencies),
        "educators": id_list("educators", educators),
        "sources": source_list,
        "proficient_at": proficient_at,
        "now": now_ts,
        "max_future": max_future,
        "earliest": earliest,
        "existing_ids": id_list("existing_ids", existing_ids),
    }


def validate_frame(
    data: pd.DataFrame,
    *,
    pre_rejected: list[tuple[int, str, str, str]] | None,
    competencies: list[str],
    educators: list[str] | None,
    sources: list[str],
    proficient_at: float,
    now: pd.Timestamp,
    max_future: pd.Timedelta,
    earliest: pd.Timestamp,
    existing_ids: list[str] | None,
) -> EvidenceValidation:
    """Validate a frame with options checked by :func:`check_options`; ``pre_rejected`` rows
    (``(row, field, value, reason)``) were rejected before (a record that is not a mapping)."""
    cols = parse_columns(data)
    rej = Rejections(cols.n, pre_rejected)
    check_missing(rej, cols)
    check_not_text(rej, cols)
    bad_evidence_id = check_ids(rej, cols)
    check_known(rej, cols, competencies=competencies, educators=educators, sources=sources)
    lo, hi = check_score(rej, cols)
    observed = check_observed_at(rej, cols, now=now, max_future=max_future, earliest=earliest)
    evidence_ids = cols.text["evidence_id"]
    check_repeats(rej, evidence_ids, existing_ids)
    valid = valid_frame(cols, np.flatnonzero(~rej.failed), observed=observed, lo=lo, hi=hi,
                        proficient_at=proficient_at)
    # an id that breaks the contract is no id
    rejections = rej.frame(evidence_ids.mask(bad_evidence_id))
    return EvidenceValidation(valid=valid, rejections=rejections)
