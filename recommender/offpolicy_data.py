"""The logged bandit dataset: the recommendation log joined with the outcomes that followed.

One record per ranked answer shown to an educator (a ``recommend`` request, or one educator of a
``batch``): the context is the educator at ``shown_at``, the action is the activity shown in the
first slot, its propensity is the one logged with it (:mod:`recommender.exploration`), and the
reward is 1 when a feedback event in ``events`` (default ``completed``) for that educator and
that activity follows within ``window`` after ``shown_at``, else 0. (An educator who completes
an activity that a later answer showed again counts for both answers: the reward says the shown
activity was taken up, not which showing caused it.)

Rows that cannot be used are left out and counted by reason (:attr:`LoggedBandit.skipped`),
never silently: pathway steps, lists logged before propensities were (migration 0003),
propensities outside (0, 1], and (by default) lists shown without exploration. Pure functions on
DataFrames, vectorized.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd

__all__ = ["BANDIT_COLUMNS", "DEFAULT_WINDOW", "LoggedBandit", "logged_bandit"]

BANDIT_COLUMNS = ["request_id", "educator_id", "shown_at", "activity_id", "propensity",
                  "policy", "model_name", "model_version", "reward"]
"""Columns of :attr:`LoggedBandit.data`."""

DEFAULT_WINDOW = pd.Timedelta(days=30)
"""How long after an answer an outcome still counts, by default."""

_LOG_COLUMNS = ("request_id", "educator_id", "kind", "rank", "activity_id", "shown_at",
                "propensity", "policy", "model_name", "model_version")
_FEEDBACK_COLUMNS = ("educator_id", "activity_id", "event", "at")


class LoggedBandit(NamedTuple):
    """The records (:data:`BANDIT_COLUMNS`, oldest first) and the rows left out, by reason."""

    data: pd.DataFrame
    skipped: dict[str, int]


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}; expected at least "
                         f"{list(columns)}")


def logged_bandit(log: pd.DataFrame, feedback: pd.DataFrame, *,
                  window: pd.Timedelta = DEFAULT_WINDOW,
                  events: Sequence[str] = ("completed",),
                  kinds: Sequence[str] = ("recommend", "batch"),
                  explored_only: bool = True) -> LoggedBandit:
    """Join the first slot of every logged ranked answer with the reward that followed.

    Parameters
    ----------
    log : DataFrame
        The recommendation log (:meth:`recommender.store.Store.recommendation_log`).
    feedback : DataFrame
        ``educator_id, activity_id, event, at`` (:meth:`~recommender.store.Store.feedback_frame`).
    window : Timedelta, default 30 days
        How long after ``shown_at`` an event still counts.
    events : sequence of str, default ('completed',)
        The feedback events that make the reward 1 (e.g. also ``accepted``).
    kinds : sequence of str
        The log kinds that are ranked answers.
    explored_only : bool, default=True
        Leave out answers logged without exploration (policy ``off``, propensity 1): there the
        logging policy never shows anything else, so a candidate that disagrees gets no credit
        whatever it would have earned (no support), which biases every estimate down.
    """
    _require(log, "the recommendation log", _LOG_COLUMNS)
    _require(feedback, "the feedback", _FEEDBACK_COLUMNS)
    if pd.Timedelta(window) <= pd.Timedelta(0):
        raise ValueError(f"window must be a positive duration; got {window!r}")
    skipped: dict[str, int] = {}
    top = log[log["rank"] == 1]
    ranked = top["kind"].isin(list(kinds))
    skipped["not a ranked answer (pathway)"] = int((~ranked).sum())
    top = top[ranked]
    p = pd.to_numeric(top["propensity"], errors="coerce")
    skipped["no propensity (logged before migration 0003)"] = int(p.isna().sum())
    bad = p.notna() & ~((p > 0) & (p <= 1))
    skipped["propensity outside (0, 1]"] = int(bad.sum())
    top = top[p.notna() & ~bad].assign(propensity=p[p.notna() & ~bad].astype(float))
    if explored_only:
        off = (top["policy"] == "off").to_numpy()
        skipped["logged without exploration (policy off)"] = int(off.sum())
        top = top[~off]
    top = top.assign(shown_at=pd.to_datetime(top["shown_at"], utc=True))

    done = feedback[feedback["event"].isin(list(events))]
    done = done.assign(at=pd.to_datetime(done["at"], utc=True))[["educator_id", "activity_id",
                                                                 "at"]]
    keyed = top.reset_index(drop=True).rename_axis("_record").reset_index()
    pairs = keyed[["_record", "educator_id", "activity_id", "shown_at"]].merge(
        done, on=["educator_id", "activity_id"], how="inner")
    hit = pairs[(pairs["at"] > pairs["shown_at"])
                & (pairs["at"] <= pairs["shown_at"] + pd.Timedelta(window))]
    keyed["reward"] = keyed["_record"].isin(hit["_record"]).astype(float)
    data = (keyed.sort_values(["shown_at", "_record"], kind="stable")[BANDIT_COLUMNS]
            .reset_index(drop=True))
    return LoggedBandit(data, {k: v for k, v in skipped.items() if v})
