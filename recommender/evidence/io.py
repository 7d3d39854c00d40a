"""Evidence in and out of files and JSON: CSV, JSON Lines and Parquet readers, JSON-ready records."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from recommender.errors import InvalidEvidenceError
from recommender.evidence.contract import EvidenceValidation
from recommender.evidence.parse import records_frame
from recommender.evidence.validate import check_options, validate_evidence, validate_frame
from recommender.fields import shown


def read_evidence_csv(path: str | os.PathLike[str], **validate_kwargs: Any) -> EvidenceValidation:
    """Read evidence from a CSV file with a header row and validate it.

    Every cell is read as text (so ``"007"`` stays ``"007"``, and only an empty cell is
    missing) and parsed by :func:`validate_evidence`, which takes ``validate_kwargs``. A row
    with too few fields is padded with empty cells (so it is rejected for what it lacks); a
    header without a required column, a row with too many fields or a file that is not CSV
    raises :class:`~recommender.errors.InvalidEvidenceError`.
    """
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "encoding": "utf-8-sig"}
    try:
        try:  # pyarrow's reader is several times faster but refuses a row with too few fields
            frame = pd.read_csv(path, engine="pyarrow", **options)
        except (ImportError, pd.errors.ParserError):  # ... which the C reader pads with blanks
            frame = pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidEvidenceError(f"cannot read evidence CSV {os.fspath(path)!r}: {exc}") from exc
    try:
        return validate_evidence(frame, **validate_kwargs)
    except InvalidEvidenceError as exc:
        raise InvalidEvidenceError(f"{os.fspath(path)}: {exc}") from None


def read_evidence_jsonl(path: str | os.PathLike[str], **validate_kwargs: Any) -> EvidenceValidation:
    """Read evidence from a JSON Lines file (one JSON object per line) and validate it.

    Blank lines are skipped; ``row`` in the rejections counts the other lines from 0. A line
    that is not valid JSON, or not a JSON object, is rejected with field ``"line"`` (its reason
    gives the 1-based line number); it never aborts the file. Objects lacking a key are
    rejected like any record. ``validate_kwargs`` go to :func:`validate_evidence`.
    """
    records: list[Mapping[str, Any]] = []
    pre: list[tuple[int, str, str, str]] = []
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            pos = len(records)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                pre.append((pos, "line", shown(text),
                            f"line {lineno} is not valid JSON ({exc.msg} at column {exc.colno}); "
                            "expected one JSON object per line"))
                obj = {}
            if not isinstance(obj, dict):
                kind = type(obj).__name__
                pre.append((pos, "line", shown(text),
                            f"line {lineno} is a JSON {kind}, expected a JSON object"))
                obj = {}
            records.append(obj)
    return validate_frame(records_frame(records), pre_rejected=pre,
                          **check_options(**validate_kwargs))


def read_evidence_parquet(path: str | os.PathLike[str], **validate_kwargs: Any
                          ) -> EvidenceValidation:
    """Read evidence from a Parquet file and validate it.

    Columns keep their Parquet types: ids must be strings (an integer id column is rejected row
    by row as ``not_text``, as in JSON), ``observed_at`` a timestamp (naive: UTC) or ISO 8601
    text. A file that is not Parquet, or lacks a required column, raises
    :class:`~recommender.errors.InvalidEvidenceError` naming the file.
    """
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidEvidenceError(f"cannot read evidence Parquet {os.fspath(path)!r}: {exc}"
                                   ) from exc
    try:
        return validate_evidence(frame, **validate_kwargs)
    except InvalidEvidenceError as exc:
        raise InvalidEvidenceError(f"{os.fspath(path)}: {exc}") from None


EVIDENCE_READERS = {".csv": read_evidence_csv, ".jsonl": read_evidence_jsonl,
                    ".ndjson": read_evidence_jsonl, ".parquet": read_evidence_parquet,
                    ".pq": read_evidence_parquet}
"""The evidence file readers by file suffix (lower case)."""


def read_evidence_file(path: str | os.PathLike[str], **validate_kwargs: Any) -> EvidenceValidation:
    """Read and validate an evidence file in the format its suffix names (:data:`EVIDENCE_READERS`:
    ``.csv``, ``.jsonl``/``.ndjson``, ``.parquet``/``.pq``); ``validate_kwargs`` go to
    :func:`validate_evidence`. Another suffix is an :class:`~recommender.errors.InvalidEvidenceError`."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    reader = EVIDENCE_READERS.get(suffix)
    if reader is None:
        raise InvalidEvidenceError(f"evidence file {os.fspath(path)!r} has suffix {suffix!r}; "
                                   f"expected one of {sorted(EVIDENCE_READERS)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such evidence file: {os.fspath(path)}")
    return reader(path, **validate_kwargs)


def to_json_records(evidence: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of an evidence frame as JSON-ready dicts: the body of ``POST /v1/evidence``.

    Datetime columns become ISO 8601 UTC strings, missing values ``None``, numbers plain
    Python numbers.

    >>> to_json_records(evidence[["evidence_id", "observed_at"]])[:1]    # doctest: +SKIP
    [{'evidence_id': 'E000001-0001', 'observed_at': '2025-08-03T14:00:00.000000Z'}]
    """
    out = evidence.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out.astype(object).where(out.notna(), None).to_dict("records")
