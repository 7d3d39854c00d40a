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

__all__ = ["columns", "learn", "table"]


def learn(evidence: pd.DataFrame, competencies: list[str], smoothing: float) -> pd.DataFrame:
    """Per-competency ``diff_rate``, ``diff_mean_score``, ``diff_log_n``, indexed by competency."""
    prof = evidence["proficient"].astype(float)
    global_rate = float(prof.mean()) if len(evidence) else 0.5
    global_score = float(evidence["score_norm"].mean()) if len(evidence) else 0.5
    g = pd.DataFrame(
        {"c": evidence["competency_id"], "p": prof, "s": evidence["score_norm"]}
    ).groupby("c", observed=False)
    stats = pd.DataFrame({"n": g.size(), "p": g["p"].sum(), "s": g["s"].sum()}).reindex(
        competencies, fill_value=0.0
    )
    k = smoothing
    return pd.DataFrame(
        {
            "diff_rate": (stats["p"] + k * global_rate) / (stats["n"] + k),
            "diff_mean_score": (stats["s"] + k * global_score) / (stats["n"] + k),
            "diff_log_n": np.log1p(stats["n"].astype(float)),
        },
        index=competencies,
    )


def columns(table: dict[str, np.ndarray], c: np.ndarray) -> dict[str, np.ndarray]:
    """The learned difficulty of each query's competency code ``c``, from the :func:`learn`
    frame's columns as arrays by competency code (:func:`table`)."""
    return {name: values[c] for name, values in table.items()}


def table(difficulty: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of a :func:`learn` frame as float arrays by competency code (what a build
    reads; made once per fit, not per request)."""
    return {name: difficulty[name].to_numpy(dtype=float) for name in difficulty.columns}
