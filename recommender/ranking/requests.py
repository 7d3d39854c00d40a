"""What one ranking call is asked: the request's constraints and the educator's context.

:class:`RankingRequest` holds the caller's constraints (``k``, hour budget, formats and
modalities, the opt-in hard gate, the mastery threshold), :class:`EducatorContext` what the
engine knows about the educator besides mastery (goals, feedback, coach pins). Both are checked
on construction; :func:`check_request` and :func:`check_context` check their type again at the
door of each public function, where a caller may have passed something else. What a call
answers, :class:`~recommender.explain.Recommendation`, is in :mod:`recommender.explain`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recommender.graph import DEFAULT_THRESHOLD, check_ids
from recommender.ranking.checks import bad_field, is_number

__all__ = [
    "EducatorContext",
    "RankingRequest",
    "check_context",
    "check_request",
]


def _str_tuple(owner: str, name: str, value: Any) -> tuple[str, ...]:
    """A filter of words as a tuple; which words a catalog allows is checked at ranking time,
    against that catalog's vocabularies (:meth:`recommender.ranking.index.RankingIndex.allowed`)."""
    if isinstance(value, str):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise bad_field(owner, name, value, "None or a collection of words") from None
    if not items or not all(isinstance(v, str) and v for v in items):
        raise bad_field(owner, name, value, "None or a non-empty collection of non-empty words")
    return items


@dataclass(frozen=True)
class RankingRequest:
    """Constraints of one ranking request, checked on construction.

    Parameters
    ----------
    k : int, default=5
        Maximum number of activities returned (>= 1).
    max_hours : float or None, default=None
        Hour budget for the *whole* list (> 0); None for no budget.
    formats, modalities : tuple of str or None, default=None
        Allowed formats and modalities, words of the catalog's vocabularies
        (:attr:`recommender.catalog.Catalog.vocabularies`; by default
        :data:`recommender.catalog.FORMATS` and :data:`~recommender.catalog.MODALITIES`),
        checked against the catalog when ranking; None allows all. A single string or any
        collection is accepted and stored as a tuple.
    hard_gate : bool, default=False
        Drop activities with an unmastered target whose direct prerequisite is below
        ``gate_threshold`` (never propose an activity the educator is not ready for). Off by
        default: the score already discounts weak prerequisites (``readiness`` and the ``gate``
        of the goal term), and in the policy simulator the gate, which drops an activity for *any*
        of its targets, left about a third of the educators with no eligible step toward their
        goal.
    gate_threshold : float, default=0.5
        In [0, 1].
    mastery_threshold : float, default=DEFAULT_THRESHOLD (0.7)
        In (0, 1]; at or above it a competency counts as mastered.
    diversify : bool, default=True
        Penalize picks that share a primary target with earlier picks (by the ranker params'
        ``diversity_penalty``).

    How the score weighs its parts, and the goal model's constants, are not part of a request:
    they are the ranker's :class:`~recommender.ranking.params.RankerParams`.

    Raises
    ------
    ValueError
        Naming the field, the value received and what is expected.
    """

    k: int = 5
    max_hours: float | None = None
    formats: tuple[str, ...] | None = None
    modalities: tuple[str, ...] | None = None
    hard_gate: bool = False
    gate_threshold: float = 0.5
    mastery_threshold: float = DEFAULT_THRESHOLD
    diversify: bool = True

    def __post_init__(self) -> None:
        own = "RankingRequest"
        if not isinstance(self.k, int | np.integer) or isinstance(self.k, bool) or self.k < 1:
            raise bad_field(own, "k", self.k, "an integer >= 1")
        mh = self.max_hours
        if mh is not None and (not is_number(mh) or not math.isfinite(mh) or mh <= 0):
            raise bad_field(own, "max_hours", mh, "None or a finite number of hours > 0")
        if self.formats is not None:
            object.__setattr__(self, "formats", _str_tuple(own, "formats", self.formats))
        if self.modalities is not None:
            object.__setattr__(
                self, "modalities", _str_tuple(own, "modalities", self.modalities)
            )
        for name in ("hard_gate", "diversify"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise bad_field(own, name, getattr(self, name), "True or False")
        g = self.gate_threshold
        if not is_number(g) or not 0 <= g <= 1:
            raise bad_field(own, "gate_threshold", g, "a number in [0, 1]")
        m = self.mastery_threshold
        if not is_number(m) or not 0 < m <= 1:
            raise bad_field(own, "mastery_threshold", m, "a number in (0, 1]")


@dataclass(frozen=True)
class EducatorContext:
    """What the engine knows about an educator besides mastery.

    Parameters
    ----------
    goals : tuple of str
        Goal competency ids, most important first.
    completed, declined, in_progress : frozenset of str
        Activity ids not proposed (declined: the caller decides how recent counts). A completed
        activity is never proposed again unless the catalog marks it ``repeatable`` and its
        cool-down has passed (see ``completed_at`` and :meth:`completed_now`).
    pinned : tuple of str
        Activity ids a coach pinned, in the order they should come.
    available : frozenset of str or None, default=None
        The activities the educator can take now (the platform says which); None: all of them.
        An activity outside it is never proposed, by the ranker or by
        :func:`~recommender.pathway.plan_pathway`, **pins included**: availability is a hard
        constraint, like an excluded format, which a pin does not override (a coach cannot
        make an activity the platform does not offer takeable; showing it pinned would send
        the educator to something they cannot start). Ids not in the catalog are ignored here
        (the API refuses them with a 404).
    completed_at : mapping of str to Timestamp
        When each completed activity was *last* completed (any time pandas reads; naive: UTC).
        Its ids count as ``completed`` too. Only repeatable activities need it: one is proposed
        again once its catalog ``cooldown_days`` have passed since this time; a repeatable
        activity completed at an unknown time stays one-shot.
    now : Timestamp or None, default=None
        The moment the context is for (cool-downs are measured to it); None: the time of each
        ranking call (UTC).

    Any iterable is accepted and stored as the documented type; a single string counts as one
    id.
    """

    goals: tuple[str, ...] = ()
    completed: frozenset[str] = frozenset()
    declined: frozenset[str] = frozenset()
    in_progress: frozenset[str] = frozenset()
    pinned: tuple[str, ...] = ()
    available: frozenset[str] | None = None
    completed_at: Mapping[str, pd.Timestamp] = field(default_factory=dict, hash=False)
    now: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        for name, kind in (("goals", tuple), ("completed", frozenset), ("declined", frozenset),
                           ("in_progress", frozenset), ("pinned", tuple)):
            v = getattr(self, name)
            if isinstance(v, str):
                v = (v,)
            try:
                items = [str(x) for x in v]
            except TypeError:
                raise bad_field("EducatorContext", name, v, "a collection of ids") from None
            if kind is tuple:
                items = list(dict.fromkeys(items))  # drop repeats, keep order
            object.__setattr__(self, name, kind(items))
        if self.available is not None:
            v = (self.available,) if isinstance(self.available, str) else self.available
            try:
                object.__setattr__(self, "available", frozenset(str(x) for x in v))
            except TypeError:
                raise bad_field("EducatorContext", "available", self.available,
                                "None or a collection of activity ids") from None
        try:
            stamps = {str(a): _utc(t) for a, t in dict(self.completed_at).items()}
        except (TypeError, ValueError, OverflowError):
            raise bad_field("EducatorContext", "completed_at", self.completed_at,
                            "a mapping of activity id to completion time") from None
        object.__setattr__(self, "completed_at", stamps)
        object.__setattr__(self, "completed", self.completed | frozenset(stamps))
        if self.now is not None:
            try:
                object.__setattr__(self, "now", _utc(self.now))
            except (TypeError, ValueError, OverflowError):
                raise bad_field("EducatorContext", "now", self.now, "None or a time") from None

    @property
    def excluded(self) -> frozenset[str]:
        """Completed, declined or in progress: not proposed (a repeatable completed activity
        may be again once its cool-down has passed: :meth:`closed`)."""
        return self.completed | self.declined | self.in_progress

    def completed_now(self, cooldowns: Mapping[str, float]) -> frozenset[str]:
        """The completed activities not open again at ``now``.

        ``cooldowns`` maps each repeatable activity to its cool-down in days
        (:attr:`recommender.catalog.Catalog.cooldowns`). A repeatable activity completed at a
        known time is open again once ``now - completed_at >= cooldown`` days; every other
        completed activity (one-shot, or its completion time unknown) stays closed.
        """
        if not cooldowns or not self.completed_at:
            return self.completed
        now = pd.Timestamp.now(tz="UTC") if self.now is None else self.now
        day = pd.Timedelta(days=1)  # compared in days: a cool-down may exceed a Timedelta's range
        reopened = {a for a, at in self.completed_at.items()
                    if a in cooldowns and (now - at) / day >= cooldowns[a]}
        return self.completed - reopened

    def closed(self, cooldowns: Mapping[str, float]) -> frozenset[str]:
        """Activities not proposed at ``now``: :meth:`completed_now`, declined, in progress."""
        return self.completed_now(cooldowns) | self.declined | self.in_progress


def _utc(at: Any) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    if ts is pd.NaT:
        raise ValueError("not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_context(graph: nx.DiGraph, context: EducatorContext) -> None:
    """Raise TypeError unless ``context`` is an EducatorContext, and check its goals' ids."""
    if not isinstance(context, EducatorContext):
        raise TypeError(f"context must be an EducatorContext; got {type(context).__name__}")
    check_ids(graph, context.goals)


def check_request(request: RankingRequest) -> None:
    """Raise TypeError unless ``request`` is a RankingRequest (its fields are checked already)."""
    if not isinstance(request, RankingRequest):
        raise TypeError(f"request must be a RankingRequest; got {type(request).__name__}")
