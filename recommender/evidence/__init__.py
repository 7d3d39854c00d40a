"""The evidence contract: validate, normalize and ingest observations of educators' competencies.

One row of evidence is one observation of one competency of one educator, in this schema
(:data:`EVIDENCE_COLUMNS`, in this order):

================  =========================  ===============================================
column            type                       meaning
================  =========================  ===============================================
``evidence_id``   str, required, unique      idempotency key: resending a row is a no-op
``educator_id``   str, required              who was observed
``competency_id`` str, required              a competency id of the framework
``source``        str, required              one of :data:`SOURCES`
``score``         float, required            the score on the row's own scale
``scale_min``     float, default 1           bottom of the scale (1-4 rubric by default)
``scale_max``     float, default 4           top of the scale
``observed_at``   datetime64[us, UTC], req.  when; naive times are UTC, offsets converted
``rater_id``      str, optional              who scored it
``activity_id``   str, optional              the learning activity it assesses, if any
================  =========================  ===============================================

Ids and times follow the field contract of :mod:`recommender.fields`: ids are strings
(``educator_id``, ``competency_id``, ``activity_id``: 1-128 characters that fit a URL path
segment; ``evidence_id`` up to 200 and ``rater_id`` up to 128, ``/`` allowed; no control
characters), ``observed_at`` an ISO 8601 string (or a datetime) between 1970-01-01T00:00:00Z
and ``now + max_future``. Scores and scales are numbers or numeric text (a CSV cell is text); a
boolean is not a number.

:func:`validate_evidence` checks a batch at once, vectorized over columns (no per-row Python
loop), keeps every good row and rejects every bad one with a reason. Valid rows gain
``score_norm = (score - scale_min) / (scale_max - scale_min)`` in [0, 1] and ``proficient =
score_norm >= proficient_at``. Each rejected input row appears exactly once in
``rejections``, under the first check it fails, in this fixed order (:data:`CHECKS`):

1. ``missing``: a required field is absent or empty, fields in the order evidence_id,
   educator_id, competency_id, source, score, observed_at;
2. ``not_text``: a text field holds a number, a boolean, an object or an array;
3. ``bad_id``: an id breaks the field contract (too long, a control character or a lone
   surrogate, ``/`` in an id that is a path segment);
4. ``unknown_competency``: ``competency_id`` is not one of ``competencies``;
5. ``unknown_educator``: ``educator_id`` is not one of ``educators`` (only if given);
6. ``unknown_source``: ``source`` is not one of ``sources``;
7. ``score_not_number``: ``score`` does not parse as a number;
8. ``scale_not_number``: ``scale_min`` or ``scale_max`` is given but not a finite number;
9. ``scale_order``: ``scale_min >= scale_max``;
10. ``score_out_of_scale``: ``score`` outside ``[scale_min, scale_max]``;
11. ``bad_timestamp``: ``observed_at`` is not an ISO 8601 timestamp (``"now"``, ``"today"``,
    a number and an impossible date such as 2024-02-30 are not);
12. ``timestamp_out_of_window``: ``observed_at`` is before ``earliest`` or more than
    ``max_future`` after ``now``;
13. ``already_ingested``: ``evidence_id`` is in ``existing_ids``;
14. ``duplicate``: ``evidence_id`` repeats a row kept earlier in this batch. Only rows that
    pass checks 1-13 take part, so the first *valid* occurrence is kept and the reason names it.

A rejection's ``value`` and ``reason`` show at most 200 characters of the offending value.
Text fields are stripped of surrounding whitespace; an empty string counts as missing. Extra
columns are ignored. A DataFrame (or CSV header) without one of the required columns is a shape
error, :class:`~recommender.errors.InvalidEvidenceError`, not a row rejection; records (mappings,
JSON lines) that lack a key are rejected row by row instead. Inputs are never mutated.

Modules
-------
:mod:`~recommender.evidence.contract` (the sources, columns, checks and
:class:`EvidenceValidation`), :mod:`~recommender.evidence.normalize` (scores to [0, 1] and
:func:`proficient_threshold`), :mod:`~recommender.evidence.validate` (:func:`validate_evidence`
and its arguments), :mod:`~recommender.evidence.parse` (each column parsed once),
:mod:`~recommender.evidence.checks` (the row checks, in :data:`CHECKS` order),
:mod:`~recommender.evidence.rejections` (one rejection per rejected row),
:mod:`~recommender.evidence.frame` (the valid rows, normalized and in chronological order) and
:mod:`~recommender.evidence.io` (CSV, JSON Lines and Parquet readers, JSON records). This package only
re-exports their public names.
"""

from recommender.evidence.contract import (
    CHECKS,
    EVIDENCE_COLUMNS,
    NORMALIZED_COLUMNS,
    OBSERVED_AT_DTYPE,
    REJECTION_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCES,
    EvidenceValidation,
)
from recommender.evidence.io import (
    EVIDENCE_READERS,
    read_evidence_csv,
    read_evidence_file,
    read_evidence_jsonl,
    read_evidence_parquet,
    to_json_records,
)
from recommender.evidence.normalize import DEFAULT_PROFICIENT_AT, proficient_threshold
from recommender.evidence.validate import NO_FUTURE_CHECK, validate_evidence

__all__ = [
    "CHECKS",
    "DEFAULT_PROFICIENT_AT",
    "EVIDENCE_COLUMNS",
    "EVIDENCE_READERS",
    "NORMALIZED_COLUMNS",
    "NO_FUTURE_CHECK",
    "OBSERVED_AT_DTYPE",
    "REJECTION_COLUMNS",
    "REQUIRED_COLUMNS",
    "SOURCES",
    "EvidenceValidation",
    "proficient_threshold",
    "read_evidence_csv",
    "read_evidence_file",
    "read_evidence_jsonl",
    "read_evidence_parquet",
    "to_json_records",
    "validate_evidence",
]
