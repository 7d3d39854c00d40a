"""The model card: what a registered model was trained on, how it was tested, what it reads.

Built by :func:`pipelines.training.train` (no MLflow here) and logged by
:func:`pipelines.tracking.log_training` as ``model_card.json`` beside every model; ``pdrec
compare`` shows its one-line :func:`card_summary`, the API's ``model.card`` its short
:func:`served_card`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from pipelines.subgroups import subgroup_digest
from recommender.tenant_content import framework_hash  # one hash: the API compares them

__all__ = ["CARD_ARTIFACT", "framework_hash", "time_range", "frame_hash", "card_summary",
           "served_card"]

CARD_ARTIFACT = "model_card.json"


def frame_hash(frame: pd.DataFrame) -> str:
    """A short content hash of any frame (row order and values)."""
    if frame.empty:
        return "empty"
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def time_range(times: pd.Series) -> dict[str, Any]:
    """``{from, to}`` as ISO-8601 strings (None for no rows)."""
    if times.empty:
        return {"from": None, "to": None}
    return {"from": times.min().isoformat(), "to": times.max().isoformat()}


def _stem(path: str) -> str:
    """A file's name without folders and suffix (``exports/ev.parquet`` -> ``ev``)."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def card_summary(card: dict) -> str:
    """One line for ``pdrec compare``: framework, data, evidence span and split."""
    data, split = card["data"], card["split"]
    where = (f"{data['kind']}:{data['tenant']}" if data.get("tenant") else
             f"files:{_stem(data['files']['evidence'])}" if data.get("files") else data["kind"])
    span = data["time_range"]

    def days(t: str | None) -> str:
        return t[:10] if t else "?"

    how = (f"time<{split['before'][:10]}" if split["by"] == "time"
           else f"educators {split['test_size']:g}")
    return (f"{card['framework']['name']}#{card['framework']['hash'][:6]} {where} "
            f"{days(span['from'])}..{days(span['to'])} {how}")


def served_card(card: dict, trained_at: str | None = None) -> dict:
    """The short summary of a card the API serves in ``model.card`` (``api.schemas.ModelCard``):
    the framework (name, version, hash), the data (kind, tenant, fingerprint, evidence rows),
    the evidence's time range, the split, the test metrics (n, AUC, log loss, Brier) with the
    digest of the subgroup metrics (:func:`pipelines.subgroups.subgroup_digest`) and when the run
    trained. Keys a card of an older run lacks are None."""
    framework, data, split, metrics = (card.get(k) or {}
                                       for k in ("framework", "data", "split", "metrics"))
    span = data.get("time_range") or {}
    return {
        "framework": {"name": framework.get("name"),
                      "version": None if framework.get("version") is None
                      else str(framework["version"]),
                      "hash": framework.get("hash")},
        "data": {"kind": data.get("kind"), "tenant": data.get("tenant"),
                 "fingerprint": data.get("fingerprint"),
                 "evidence": (data.get("rows") or {}).get("evidence")},
        "time_range": {"from": span.get("from"), "to": span.get("to")},
        "split": {"by": split.get("by"), "before": split.get("before"),
                  "test_size": split.get("test_size"), "split_id": split.get("split_id")},
        "metrics": {k: None if metrics.get(k) is None else float(metrics[k])
                    for k in ("n", "auc", "log_loss", "brier")},
        "subgroups": subgroup_digest(card.get("subgroups")),
        "trained_at": trained_at,
    }
