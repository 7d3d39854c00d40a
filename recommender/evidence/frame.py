"""Building the frame of valid evidence: the kept rows, normalized, in chronological order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.evidence.normalize import normalized
from recommender.evidence.parse import BatchColumns


def chronological_order(ts: np.ndarray, ids: pd.Series) -> np.ndarray:
    """Positions that sort rows by ``(ts, ids)``, ``ts`` being int64 times.

    Equivalent to ``sort_values([time, id])`` but several times faster on large batches: an
    integer argsort on time, then a string sort only among rows that share a time.
    """
    order = np.argsort(ts, kind="stable")
    ordered = ts[order]
    same = ordered[1:] == ordered[:-1]
    tied = np.zeros(len(ts), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():  # tied rows form contiguous runs of one time each; sort them by id in place
        sub = order[tied]
        keys = pd.DataFrame({"t": ts[sub], "e": ids.iloc[sub].to_numpy()})
        order[tied] = sub[keys.sort_values(["t", "e"], kind="stable").index.to_numpy()]
    return order


def valid_frame(
    cols: BatchColumns,
    kept: np.ndarray,
    *,
    observed: pd.Series,
    lo: np.ndarray,
    hi: np.ndarray,
    proficient_at: float,
) -> pd.DataFrame:
    """The rows at positions ``kept`` as :data:`~recommender.evidence.NORMALIZED_COLUMNS`,
    sorted by ``(observed_at, evidence_id)``: one take per column, straight into that order."""
    text = cols.text
    ev = text["evidence_id"]
    take = kept[chronological_order(observed.iloc[kept].astype("int64").to_numpy(), ev.iloc[kept])]
    lo, hi, score = lo[take], hi[take], cols.score.values[take]
    norm, proficient = normalized(score, lo, hi, proficient_at)
    out = pd.RangeIndex(len(take))

    def pick(col: pd.Series) -> pd.Series:
        return col.iloc[take].set_axis(out)

    return pd.DataFrame(
        {
            "evidence_id": pick(ev),
            "educator_id": pick(text["educator_id"]),
            "competency_id": pick(text["competency_id"]),
            "source": pick(text["source"]),
            "score": score,
            "scale_min": lo,
            "scale_max": hi,
            "observed_at": pick(observed),
            "rater_id": pick(text["rater_id"]),
            "activity_id": pick(text["activity_id"]),
            "score_norm": norm,
            "proficient": proficient,
        },
        index=out,
    )
