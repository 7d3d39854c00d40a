"""``diff_``: the competency's difficulty, learned by ``FeatureBuilder.fit`` on training folds only.

Over the fit evidence, with smoothing ``k = difficulty_smoothing`` toward the global values
(0.5 when the fit evidence is empty):

- ``diff_rate = (proficient records on c + k * global rate) / (records on c + k)``;
- ``diff_mean_score = (sum of scores on c + k * global mean score) / (records on c + k)``;
- ``diff_log_n = log(1 + records on c)``.

They never see the evidence the frame is built from (held-out educators' outcomes stay unseen).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["columns", "counts", "from_counts", "learn", "table"]


def learn(evidence: pd.DataFrame, competencies: list[str], smoothing: float) -> pd.DataFrame:
    """Per-competency ``diff_rate``, ``diff_mean_score``, ``diff_log_n``, indexed by competency."""
    return from_counts(counts(evidence, competencies), smoothing)


def counts(evidence: pd.DataFrame, competencies: list[str]) -> pd.DataFrame:
    """Per-competency records ``n``, proficient records ``p`` and sum of scores ``s``, indexed
    by ``competencies`` (0 where none): what :func:`from_counts` learns from. Counts of
    disjoint sets of records add up (a cluster sums its partitions' counts)."""
    g = pd.DataFrame(
        {"c": evidence["competency_id"], "p": evidence["proficient"].astype(float),
         "s": evidence["score_norm"]}
    ).groupby("c", observed=False)
    return pd.DataFrame({"n": g.size().astype(float), "p": g["p"].sum(), "s": g["s"].sum()}
                        ).reindex(competencies, fill_value=0.0).rename_axis(None)


def from_counts(stats: pd.DataFrame, smoothing: float) -> pd.DataFrame:
    """The :func:`learn` frame from :func:`counts` (the global rate and mean score are those of
    all the counted records; 0.5 when there are none)."""
    total = float(stats["n"].sum())
    global_rate = float(stats["p"].sum()) / total if total else 0.5
    global_score = float(stats["s"].sum()) / total if total else 0.5
    k = smoothing
    return pd.DataFrame(
        {
            "diff_rate": (stats["p"] + k * global_rate) / (stats["n"] + k),
            "diff_mean_score": (stats["s"] + k * global_score) / (stats["n"] + k),
            "diff_log_n": np.log1p(stats["n"].astype(float)),
        },
        index=stats.index,
    )


def columns(table: dict[str, np.ndarray], c: np.ndarray) -> dict[str, np.ndarray]:
    """The learned difficulty of each query's competency code ``c``, from the :func:`learn`
    frame's columns as arrays by competency code (:func:`table`)."""
    return {name: values[c] for name, values in table.items()}


def table(difficulty: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of a :func:`learn` frame as float arrays by competency code (what a build
    reads; made once per fit, not per request)."""
    return {name: difficulty[name].to_numpy(dtype=float) for name in difficulty.columns}
