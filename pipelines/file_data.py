"""Training data read from files (``data.kind: files``): a data scientist's own evidence.

``data`` names the files (paths relative to the working directory)::

    kind: files
    evidence: exports/evidence.parquet     # required: the evidence contract, .csv/.jsonl/.parquet
    framework: exports/framework.yaml      # required: a framework file, or 'educator'/'leader'
    catalog: exports/catalog.yaml          # optional: the activity catalog of that framework
    completions: exports/completions.csv   # optional: educator_id, activity_id, completed_at
    educators: exports/educators.jsonl     # optional: profiles (educator_id, years_experience,
                                           #   role, subject, grade_band, goals)

Evidence is read and validated by :func:`recommender.evidence.read_evidence_file` against the
framework (its competencies and its proficient level); completions and profiles by
:mod:`pipelines.file_checks`. Every bad row is rejected with its file, row, field, value and
reason, and training goes on with the good ones; a file that cannot be read, lacks a required
column or holds no valid evidence at all stops it with an error naming the file. Educators with
evidence but no profile row are kept (their profile features are missing). Without a catalog
(and with a framework other than the shipped ``educator`` one, whose catalog is the default),
activity-dose features are empty and no activity effects are learned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pandas as pd

from pipelines.file_checks import check_completions, check_profiles
from recommender.catalog import Catalog, default_catalog, load_catalog
from recommender.errors import CatalogError, FrameworkError, InvalidEvidenceError
from recommender.evidence import EVIDENCE_READERS, proficient_threshold, read_evidence_file
from recommender.graph import default_framework, load_framework

__all__ = ["FileData", "FILE_KEYS", "read_file_data", "read_table", "load_content_files"]

FILE_KEYS = ("evidence", "framework", "catalog", "completions", "educators")
"""The keys of a ``data.kind: files`` config that name files."""

REJECTION_COLUMNS = ["file", "row", "evidence_id", "field", "value", "reason"]


@dataclass(frozen=True)
class FileData:
    """Validated training inputs from files, shaped as the synthetic dataset's."""

    graph: nx.DiGraph
    catalog: Catalog | None
    educators: pd.DataFrame  # educator_id + profile columns (missing where no profile row)
    evidence: pd.DataFrame  # validated evidence (the contract's normalized columns)
    completions: pd.DataFrame  # educator_id, activity_id, completed_at
    rejections: pd.DataFrame  # file, row, evidence_id, field, value, reason
    source: dict  # for the model card: kind, the files, rows read and rejected per file


def load_content_files(framework: str, catalog: str | None) -> tuple[nx.DiGraph, Catalog | None]:
    """The framework (a shipped name or a YAML/JSON file) and its catalog (a file; for the
    shipped ``educator`` framework the default catalog when none is given).

    Errors name the file: a missing one, one that is not YAML/JSON, or content the framework or
    catalog checks refuse.
    """
    try:
        graph = (default_framework(framework) if framework in ("educator", "leader")
                 else load_framework(Path(framework)))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such framework file: {framework} (or use 'educator' or "
                                "'leader', the shipped frameworks)") from None
    except (FrameworkError, ValueError) as exc:  # yaml and json errors are ValueErrors too
        raise FrameworkError(f"framework file {framework}: {exc}") from exc
    if catalog is None:
        named = framework in ("educator", "leader") and graph.graph["name"] == "educator"
        return graph, default_catalog(graph) if named else None
    try:
        return graph, load_catalog(Path(catalog), graph)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such catalog file: {catalog}") from None
    except (CatalogError, ValueError) as exc:
        raise CatalogError(f"catalog file {catalog}: {exc}") from exc


def read_table(path: str | Path, what: str) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """A completions or profiles file as a frame (CSV cells as text, JSON Lines and Parquet
    typed), and the JSON Lines lines that are not JSON objects as ``(row, value, reason)``
    (their row is kept empty, so the checks reject it too; it is reported once, by this)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such {what} file: {path}")
    suffix = path.suffix.lower()
    bad: list[tuple[int, str, str]] = []
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                encoding="utf-8-sig")
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            records = []
            lines = [t for t in path.read_text(encoding="utf-8-sig").splitlines() if t.strip()]
            # one parse per line: no bulk JSON Lines parser keeps going past a bad line
            for row, text in enumerate(lines):
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    obj = exc
                if not isinstance(obj, dict):
                    bad.append((row, text[:200], "line is not a JSON object"))
                    obj = {}
                records.append(obj)
            frame = pd.DataFrame.from_records(records, index=pd.RangeIndex(len(records)))
        else:
            raise ValueError(f"suffix {suffix!r}; expected one of {sorted(EVIDENCE_READERS)}")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValueError(f"cannot read {what} file {path}: {exc}") from exc
    return frame, bad


def _checked(path: str, what: str, check, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and check one companion file; rejections carry the file name."""
    frame, bad = read_table(path, what)
    try:
        valid, rejections = check(frame, **kw)
    except ValueError as exc:
        raise ValueError(f"{what} file {path}: {exc}") from None
    lines = pd.DataFrame(bad, columns=["row", "value", "reason"]).assign(field="line")
    rejections = pd.concat([lines, rejections[~rejections["row"].isin(lines["row"])]],
                           ignore_index=True).sort_values("row", ignore_index=True)
    return valid, rejections.assign(file=str(path), evidence_id="")[REJECTION_COLUMNS]


def read_file_data(data: dict) -> FileData:
    """Read and validate the files ``data`` names (see the module docstring)."""
    graph, catalog = load_content_files(str(data["framework"]), data.get("catalog"))
    ev = read_evidence_file(data["evidence"], competencies=list(graph),  # errors name the file
                            proficient_at=proficient_threshold(graph.graph["scale"]))
    parts = [ev.rejections.assign(file=str(data["evidence"]))[REJECTION_COLUMNS]]
    if ev.valid.empty:
        reasons = ev.rejections["reason"].value_counts().head(3).to_dict()
        raise InvalidEvidenceError(f"evidence file {data['evidence']}: no valid row among "
                                   f"{len(ev.rejections)}; most common reasons: {reasons}")
    completions = pd.DataFrame(columns=["educator_id", "activity_id", "completed_at"])
    if data.get("completions"):
        completions, rej = _checked(data["completions"], "completions", check_completions,
                                    activities=None if catalog is None else catalog.activities.index)
        parts.append(rej)
    profiles = pd.DataFrame(columns=["educator_id"])
    if data.get("educators"):
        profiles, rej = _checked(data["educators"], "educators", check_profiles)
        parts.append(rej)
    ids = pd.Index(pd.unique(ev.valid["educator_id"]))
    unprofiled = ids.difference(pd.Index(profiles["educator_id"]))
    educators = pd.concat([profiles, pd.DataFrame({"educator_id": unprofiled.to_numpy(object)})],
                          ignore_index=True)
    rejections = pd.concat(parts, ignore_index=True)
    rejected = rejections["file"].value_counts()
    files = {k: str(data[k]) for k in FILE_KEYS if data.get(k)}
    source = {"kind": "files", "files": files,
              "rejected": {k: int(rejected.get(files[k], 0)) for k in
                           ("evidence", "completions", "educators") if k in files},
              "educators_without_profile": int(len(unprofiled)) if data.get("educators") else None}
    return FileData(graph, catalog, educators, ev.valid, completions, rejections, source)
