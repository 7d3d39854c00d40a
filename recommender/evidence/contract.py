"""The evidence contract: the sources, the columns of a row, the checks and the outcome's shape.

See :mod:`recommender.evidence` for what each column means and what each check rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SOURCES = (
    "observation",
    "micro_credential",
    "student_growth",
    "self_assessment",
    "activity_assessment",
    "peer_review",
)
"""Where a piece of evidence comes from."""

EVIDENCE_COLUMNS = (
    "evidence_id",
    "educator_id",
    "competency_id",
    "source",
    "score",
    "scale_min",
    "scale_max",
    "observed_at",
    "rater_id",
    "activity_id",
)
"""The canonical evidence columns, in order."""

REQUIRED_COLUMNS = ("evidence_id", "educator_id", "competency_id", "source", "score", "observed_at")
"""Columns every row must fill; also the order in which missing fields are reported."""

TEXT_COLUMNS = ("evidence_id", "educator_id", "competency_id", "source", "rater_id", "activity_id")
"""The columns that hold text (every other column is a number or a time)."""

NORMALIZED_COLUMNS = (*EVIDENCE_COLUMNS, "score_norm", "proficient")
"""Columns of :attr:`EvidenceValidation.valid`."""

REJECTION_COLUMNS = ("row", "evidence_id", "field", "value", "reason")
"""Columns of :attr:`EvidenceValidation.rejections`."""

OBSERVED_AT_DTYPE = "datetime64[us, UTC]"
"""The dtype of ``observed_at`` in validated evidence."""

CHECKS = (
    "missing",
    "not_text",
    "bad_id",
    "unknown_competency",
    "unknown_educator",
    "unknown_source",
    "score_not_number",
    "scale_not_number",
    "scale_order",
    "score_out_of_scale",
    "bad_timestamp",
    "timestamp_out_of_window",
    "already_ingested",
    "duplicate",
)
"""The row checks, in the order they are applied; a row is rejected by the first it fails."""


@dataclass(frozen=True)
class EvidenceValidation:
    """The outcome of validating one batch of evidence.

    Attributes
    ----------
    valid : DataFrame
        The accepted rows: :data:`NORMALIZED_COLUMNS` (the canonical columns plus
        ``score_norm`` and ``proficient``), sorted by ``(observed_at, evidence_id)``, with a
        fresh ``RangeIndex``.
    rejections : DataFrame
        One row per rejected input row, sorted by ``row``: :data:`REJECTION_COLUMNS`. ``row`` is
        the 0-based position in the input (data rows of a CSV, non-blank lines of a JSONL file),
        ``evidence_id`` the row's id if it has one, ``field`` the field at fault, ``value`` the
        offending value as text (empty when missing) and ``reason`` a sentence naming the field,
        the value and what was expected.
    """

    valid: pd.DataFrame
    rejections: pd.DataFrame

    @property
    def n_rejected(self) -> int:
        """How many input rows were rejected."""
        return len(self.rejections)
