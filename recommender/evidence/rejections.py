"""Per-row rejections: each rejected input row recorded once, under the first check it fails."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from recommender.evidence.contract import REJECTION_COLUMNS

_SHOWN = 200  # characters of an offending value shown in a rejection

Value = pd.Series | Callable[[np.ndarray], pd.Series] | str
"""The offending values: a Series over all rows, a function of the row positions, or one text."""
Reason = Callable[[np.ndarray, pd.Series], pd.Series] | str
"""Why: a function of the row positions and their shown values, or one sentence."""


def quoted(values: pd.Series) -> pd.Series:
    """Each value in single quotes, as reasons show them."""
    return "'" + values + "'"


class Rejections:
    """The rejections of one batch of ``n`` rows, collected check by check.

    ``pre_rejected`` are rows rejected before the checks ran, as ``(row, field, value,
    reason)`` (a record that is not a mapping, a line that is not JSON); :attr:`failed` marks
    every row rejected so far.
    """

    def __init__(self, n: int, pre_rejected: list[tuple[int, str, str, str]] | None) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self._parts: list[pd.DataFrame] = []
        if pre_rejected:
            pre = pd.DataFrame(pre_rejected, columns=["row", "field", "value", "reason"])
            self.failed[pre["row"].to_numpy()] = True
            self._parts.append(pre)

    def reject(self, mask: np.ndarray, field: str, value: Value, reason: Reason) -> None:
        """Reject the rows of ``mask`` not rejected yet.

        ``value`` and ``reason`` are only evaluated on those rows. A value longer than 200
        characters is cut (with ``...``), in the reason too.
        """
        new = mask & ~self.failed
        if not new.any():
            return
        rows = np.flatnonzero(new)
        if isinstance(value, str):
            vals = pd.Series(value, index=rows, dtype="str")
        else:
            vals = value(rows) if callable(value) else value.iloc[rows]
            vals = vals.astype("str").fillna("").set_axis(rows)
            long = (vals.str.len() > _SHOWN).to_numpy()
            if long.any():  # shown cut, reasons included: a 100,000-character id stays there
                vals[long] = vals[long].str.slice(0, _SHOWN - 3) + "..."
        why = (pd.Series(reason, index=rows, dtype="str") if isinstance(reason, str)
               else reason(rows, vals))
        self._parts.append(pd.DataFrame({"row": rows, "field": field, "value": vals.to_numpy(),
                                         "reason": np.asarray(why, dtype=object)}))
        self.failed[rows] = True

    def frame(self, evidence_ids: pd.Series) -> pd.DataFrame:
        """The rejections as :data:`REJECTION_COLUMNS`, sorted by row; ``evidence_ids`` gives
        each row's usable id (NaN when it has none)."""
        if self._parts:
            out = pd.concat(self._parts, ignore_index=True).sort_values("row", ignore_index=True)
            out.insert(1, "evidence_id", evidence_ids.iloc[out["row"].to_numpy()].to_numpy())
        else:
            out = pd.DataFrame({"row": [], "evidence_id": [], "field": [], "value": [],
                                "reason": []})
        out = out.astype({"row": "int64", "evidence_id": "str", "field": "str", "value": "str",
                          "reason": "str"})
        return out[list(REJECTION_COLUMNS)]
