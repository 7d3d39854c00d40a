"""Training configurations: versioned YAML under ``experiments/configs/``, checked on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from recommender.models import MODELS

__all__ = ["TrainConfig", "load_config", "with_overrides"]

_DATA_KINDS = ("synthetic", "store", "files", "workforce")
_FILE_KEYS = ("evidence", "framework", "catalog", "completions", "educators")
_SPLITS = ("educator", "time")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: which data, which split, which model with which parameters.

    ``data`` is ``{kind: synthetic, path: DIR, generate: {educators, months, seed}}``: ``path``
    is relative to the project data directory, and is generated first when missing; or
    ``{kind: store, tenant: ID, url: URL}``: one tenant's data in the store (``url`` defaults to
    ``DATABASE_URL``, else the data directory's SQLite file); or ``{kind: files, evidence: FILE,
    framework: FILE, catalog: FILE, completions: FILE, educators: FILE}``: evidence in the
    evidence contract (CSV, JSON Lines or Parquet) with a framework file (or ``educator``/
    ``leader``), the rest optional (:mod:`pipelines.file_data`; paths relative to the working
    directory); or ``{kind: workforce, path: DIR}``: a workforce folder, partitioned by educator
    (:mod:`pipelines.workforce_data`; ``pdrec train --dask`` reads it a partition at a time on
    the workers).
    ``split`` is ``{by: educator, test_size, seed}`` (held-out *educators*, never rows; the
    default) or ``{by: time, before: DATE}`` (train on records before the date, test on the
    later ones; without ``before``, the last ``test_size`` share of records by time is tested).
    """

    name: str
    model: str
    data: dict[str, Any]
    split: dict[str, Any] = field(default_factory=lambda: {"test_size": 0.25, "seed": 0})
    params: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "model": self.model, "data": self.data, "split": self.split,
            "params": self.params, "features": self.features, "seed": self.seed,
        }


def load_config(source: str | Path | dict) -> TrainConfig:
    """Read and check a config; errors name the key, the value and what was expected."""
    if isinstance(source, dict):
        raw, where = dict(source), "config"
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such config file: {path}")
        raw, where = yaml.safe_load(path.read_text()) or {}, str(path)
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
    for key in ("name", "model", "data"):
        if key not in raw:
            raise ValueError(f"{where}: missing required key {key!r}")
    if raw["model"] not in MODELS:
        raise ValueError(f"{where}: model {raw['model']!r} is not one of {sorted(MODELS)}")
    data = raw["data"]
    if not isinstance(data, dict) or data.get("kind") not in _DATA_KINDS:
        raise ValueError(f"{where}: data.kind must be one of {list(_DATA_KINDS)}, got {data!r}")
    if data["kind"] == "store" and not str(data.get("tenant") or ""):
        raise ValueError(f"{where}: data.kind store needs data.tenant, got {data!r}")
    if data["kind"] == "files":
        _check_files(where, data)
    if data["kind"] == "workforce" and (set(data) - {"kind", "path"} or not str(data.get("path") or "")):
        raise ValueError(f"{where}: data.kind workforce takes data.path (a workforce folder) "
                         f"and nothing else, got {data!r}")
    split = {"test_size": 0.25, "seed": 0, **(raw.get("split") or {})}
    if not 0 < float(split["test_size"]) < 1:
        raise ValueError(f"{where}: split.test_size must be in (0, 1), got {split['test_size']!r}")
    if split.setdefault("by", "educator") not in _SPLITS:
        raise ValueError(f"{where}: split.by must be one of {list(_SPLITS)}, got {split['by']!r}")
    if split.get("before") is not None:
        if split["by"] != "time":
            raise ValueError(f"{where}: split.before needs split.by time, got {split['by']!r}")
        try:
            split["before"] = pd.Timestamp(split["before"]).isoformat()
        except (ValueError, TypeError):
            raise ValueError(f"{where}: split.before is not a date: {split['before']!r}") from None
    return TrainConfig(
        name=str(raw["name"]), model=raw["model"], data=data, split=split,
        params=dict(raw.get("params") or {}), features=dict(raw.get("features") or {}),
        seed=int(raw.get("seed", 0)),
    )


def _check_files(where: str, data: dict) -> None:
    """``data.kind: files`` names its evidence and framework, and only known file keys."""
    unknown = sorted(set(data) - {"kind", *_FILE_KEYS})
    if unknown:
        raise ValueError(f"{where}: data.kind files takes {list(_FILE_KEYS)}; unknown keys {unknown}")
    for key in ("evidence", "framework"):
        if not str(data.get(key) or ""):
            raise ValueError(f"{where}: data.kind files needs data.{key} (a file), got {data!r}")


def with_overrides(cfg: TrainConfig, *, tenant: str | None = None, store_url: str | None = None,
                   split: str | None = None, before: str | None = None,
                   files: dict[str, str | None] | None = None,
                   workforce: str | None = None) -> TrainConfig:
    """``cfg`` with the CLI's data and split options applied, checked as a config file is.

    ``tenant`` switches the data to that tenant's in the store (the run is named
    ``NAME-TENANT``); ``files`` (``evidence``, ``framework``, ``catalog``, ``completions``,
    ``educators``; None values dropped) to those files (the run is named ``NAME-EVIDENCE``,
    the evidence file's stem); ``workforce`` to that workforce folder (the run is named
    ``NAME-FOLDER``); ``before`` implies a time split.
    """
    raw = cfg.to_dict()
    files = {k: str(v) for k, v in (files or {}).items() if v is not None}
    given = [name for name, on in (("--tenant", tenant), ("--evidence", files),
                                   ("--workforce", workforce)) if on]
    if len(given) > 1:
        raise ValueError(f"train on one source of data; got {' and '.join(given)}")
    if workforce:
        raw["data"] = {"kind": "workforce", "path": str(workforce)}
        raw["name"] = f"{cfg.name}-{Path(workforce).name}"
    if files:
        raw["data"] = {"kind": "files", **files}
        raw["name"] = f"{cfg.name}-{Path(files['evidence']).stem}" if files.get("evidence") \
            else cfg.name
    if tenant:
        raw["data"] = {"kind": "store", "tenant": tenant, **({"url": store_url} if store_url else {})}
        raw["name"] = f"{cfg.name}-{tenant}"
    elif store_url:
        raise ValueError("--store-url needs --tenant (whose data to read)")
    if split or before:
        raw["split"] = {**raw["split"], "by": split or "time"}
        if before:
            raw["split"]["before"] = before
    return load_config(raw)
