"""The activity catalog: what each learning activity develops, at what cost.

A catalog file (YAML or JSON) holds ``activities``, each::

    id: ACT-001
    title: Formative assessment foundations
    format: course            # one of the catalog's formats (default FORMATS)
    competencies: {INS.FA: 1.0, COG.AL: 0.5}   # 1 to 3 targets, weights in (0, 1]
    hours: 6
    modality: online          # one of the catalog's modalities (default MODALITIES)
    level: developing         # one of the catalog's levels (default recommender.graph.LEVELS)
    expected_gain: 0.12       # prior expected rise in P(mastery) of a weight-1 target
    description: ...
    repeatable: true          # optional, default false: may be taken again after completion
    cooldown_days: 30         # optional, only with repeatable: true; default 0
    credit_hours: 6           # optional, default ``hours``: licensure-renewal credit it earns
    categories: [english_learners]   # optional renewal categories; default: see below

**Vocabularies.** A catalog may declare its own words for ``format``, ``modality`` and ``level``
in a top-level ``vocabularies`` block (:mod:`recommender.vocabulary`); without it, or for a key
it leaves out, the defaults apply. Every activity's value must be in the vocabulary in effect
(:attr:`Catalog.vocabularies`); :meth:`Catalog.matching` turns request filters on them into the
set of matching activities.

**Repeatable activities.** By default an activity is one-shot: once completed it is never
proposed again. A ``repeatable`` one (practice-style or recurring: coaching cycles, PLC cycles,
observation rounds) may be proposed again once ``cooldown_days`` (a number >= 0) have passed
since its *last* completion (:meth:`recommender.ranking.EducatorContext.completed_now` decides,
from the context's completion times and ``now``); :attr:`Catalog.cooldowns` maps each repeatable
activity to its cool-down. ``cooldown_days`` on an activity that is not repeatable is an error
(it would do nothing).

**Renewal credit** (:mod:`recommender.renewal`). ``credit_hours`` is the clock-hour credit an
activity earns toward licensure renewal (a positive number; default: its ``hours``, the seat-plus-
practice time). ``categories`` is a list of renewal categories (non-empty strings) it counts
toward. An activity that declares none counts toward the **domains** of the competencies it
targets (the framework's ``domain`` of each, e.g. ``instructional``): the default catalog
declares none, so a tenant's rule on the ``instructional`` category counts the activities
targeting instructional competencies. :attr:`Catalog.categories` holds both, long form, derived
once at load (:func:`derive_categories`); a :class:`Catalog` built by hand without it gets the
derived ones in :func:`recommender.renewal.activity_categories`.

:func:`load_catalog` checks every field and every competency reference against the framework,
and names each activity and value that does not resolve. The result is a :class:`Catalog`: one
frame of activities and one long frame of (activity, competency, weight) targets, the shapes the
ranker vectorizes over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import networkx as nx
import pandas as pd
import yaml

from recommender.errors import CatalogError
from recommender.graph.framework import read_mapping
from recommender.vocabulary import DEFAULT_VOCABULARIES, FORMATS, MODALITIES, Vocabularies

__all__ = ["FORMATS", "MODALITIES", "Catalog", "Vocabularies", "build_catalog", "load_catalog",
           "default_catalog", "derive_categories"]

_ACTIVITY_COLUMNS = [
    "title", "format", "hours", "modality", "level", "expected_gain", "description",
]


@dataclass(frozen=True)
class Catalog:
    """Activities (indexed by ``activity_id``) and their competency targets (long form), and the
    vocabularies their ``format``, ``modality`` and ``level`` come from."""

    activities: pd.DataFrame
    targets: pd.DataFrame  # columns: activity_id, competency_id, weight
    vocabularies: Vocabularies = DEFAULT_VOCABULARIES
    categories: pd.DataFrame | None = None  # columns: activity_id, category (renewal credit)

    def __len__(self) -> int:
        return len(self.activities)

    @cached_property
    def cooldowns(self) -> dict[str, float]:
        """``{activity_id: cooldown_days}`` of the repeatable activities (none: empty)."""
        acts = self.activities
        if "repeatable" not in acts.columns:
            return {}
        rep = acts[acts["repeatable"].fillna(False).astype(bool)]
        days = rep.get("cooldown_days", pd.Series(0.0, index=rep.index)).fillna(0.0)
        return {str(a): float(d) for a, d in days.items()}

    def matching(self, *, formats=None, modalities=None, levels=None) -> frozenset[str]:
        """The activities of one of ``formats``, one of ``modalities`` and one of ``levels``
        (each None or empty: any), every value checked against :attr:`vocabularies`.

        A caller whose filter words are the catalog's own (a district's vocabulary) passes the
        result as the :class:`~recommender.ranking.EducatorContext`'s ``available`` (intersected
        with any availability it has): the ranker and the pathway then keep to it, pins
        included, exactly as they keep to a request's ``formats`` and ``modalities``.

        Raises
        ------
        recommender.errors.InvalidInputError
            Naming the filter and position (``formats[1]``), the value and the allowed values.
        """
        acts = self.activities
        keep = pd.Series(True, index=acts.index)
        for name, column, values in (("formats", "format", formats),
                                     ("modalities", "modality", modalities),
                                     ("levels", "level", levels)):
            allowed = self.vocabularies.check(name, values)
            if allowed is not None:
                keep &= acts[column].isin(allowed)
        return frozenset(acts.index[keep.to_numpy()].astype(str))


def build_catalog(data: Mapping, graph: nx.DiGraph) -> Catalog:
    """Validate a catalog mapping against ``graph`` and return a :class:`Catalog`."""
    items = data.get("activities")
    if not isinstance(items, list) or not items:
        raise CatalogError("catalog: 'activities' must be a non-empty list")
    vocab = Vocabularies.from_mapping(data.get("vocabularies"))
    problems: list[str] = []
    seen: set[str] = set()
    rows, targets, categories = [], [], []
    for pos, a in enumerate(items):
        aid = str(a.get("id", f"#{pos}")) if isinstance(a, Mapping) else f"#{pos}"
        if not isinstance(a, Mapping):
            problems.append(f"{aid}: not a mapping")
            continue
        if aid in seen:
            problems.append(f"{aid}: duplicate activity id")
        seen.add(aid)
        for field in ("id", "title"):
            if not a.get(field):
                problems.append(f"{aid}: missing {field!r}")
        for field in ("format", "modality", "level"):
            if a.get(field) not in (allowed := vocab.allowed(field)):
                problems.append(f"{aid}: {field} {a.get(field)!r} is not one of {list(allowed)}")
        hours, gain = a.get("hours"), a.get("expected_gain")
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not hours > 0:
            problems.append(f"{aid}: hours {hours!r} must be a positive number")
        if not isinstance(gain, int | float) or isinstance(gain, bool) or not 0 < gain <= 1:
            problems.append(f"{aid}: expected_gain {gain!r} must be in (0, 1]")
        problems += _repeat_problems(aid, a) + _credit_problems(aid, a)
        if isinstance(a.get("categories"), list):
            categories += [(aid, str(c)) for c in a["categories"]]
        comps = a.get("competencies")
        if not isinstance(comps, Mapping) or not 1 <= len(comps) <= 3:
            problems.append(f"{aid}: competencies must map 1 to 3 competency ids to weights")
            comps = {}
        for cid, w in comps.items():
            if str(cid) not in graph:
                problems.append(f"{aid}: competency {cid!r} is not in framework {graph.graph.get('name')!r}")
            if not isinstance(w, int | float) or isinstance(w, bool) or not 0 < w <= 1:
                problems.append(f"{aid}: weight {w!r} of {cid!r} must be in (0, 1]")
            targets.append((aid, str(cid), float(w) if isinstance(w, int | float) else 0.0))
        rows.append({"activity_id": aid, **{c: a.get(c) for c in _ACTIVITY_COLUMNS},
                     "repeatable": a.get("repeatable") is True,
                     "cooldown_days": a.get("cooldown_days") or 0.0,
                     "credit_hours": a.get("credit_hours") or hours})
    if problems:
        raise CatalogError(f"catalog has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    activities = pd.DataFrame(rows).set_index("activity_id")
    activities["description"] = activities["description"].fillna("")
    activities = activities.astype({"hours": float, "expected_gain": float, "repeatable": bool,
                                    "cooldown_days": float, "credit_hours": float})
    targets_df = pd.DataFrame(targets, columns=["activity_id", "competency_id", "weight"])
    declared = pd.DataFrame(categories, columns=["activity_id", "category"])
    return Catalog(activities=activities, targets=targets_df, vocabularies=vocab,
                   categories=derive_categories(declared, targets_df, graph))


def derive_categories(declared: pd.DataFrame, targets: pd.DataFrame, graph: nx.DiGraph
                      ) -> pd.DataFrame:
    """``(activity_id, category)`` pairs: the ``declared`` ones, and for each activity that
    declares none the framework domains of the competencies it targets (module docstring)."""
    domains = pd.Series(dict(graph.nodes(data="domain")), dtype=object)
    t = targets[~targets["activity_id"].isin(declared["activity_id"])]
    derived = pd.DataFrame({"activity_id": t["activity_id"].to_numpy(),
                            "category": domains.reindex(t["competency_id"]).to_numpy()})
    return (pd.concat([declared, derived.dropna()], ignore_index=True)
            .drop_duplicates(ignore_index=True))


def _credit_problems(aid: str, a: Mapping) -> list[str]:
    """What is wrong with an activity's optional ``credit_hours`` and ``categories``."""
    out = []
    credit, cats = a.get("credit_hours"), a.get("categories")
    if credit is not None and (not isinstance(credit, int | float) or isinstance(credit, bool)
                               or not 0 < credit < 1e6):
        out.append(f"{aid}: credit_hours {credit!r} must be a positive number (below 1e6)")
    if cats is not None and (not isinstance(cats, list) or not all(
            isinstance(c, str) and c.strip() for c in cats)):
        out.append(f"{aid}: categories {cats!r} must be a list of non-empty strings")
    return out


def _repeat_problems(aid: str, a: Mapping) -> list[str]:
    """What is wrong with an activity's optional ``repeatable`` and ``cooldown_days``."""
    out = []
    rep, days = a.get("repeatable", False), a.get("cooldown_days")
    if not isinstance(rep, bool):
        out.append(f"{aid}: repeatable {rep!r} must be true or false")
    if days is not None:
        if not isinstance(days, int | float) or isinstance(days, bool) or not 0 <= days < 1e6:
            out.append(f"{aid}: cooldown_days {days!r} must be a number of days >= 0 "
                       "(below 1e6)")
        elif rep is not True:
            out.append(f"{aid}: cooldown_days {days!r} applies only to a repeatable activity; "
                       "set repeatable: true or drop cooldown_days")
    return out


def load_catalog(source: str | Path | Mapping, graph: nx.DiGraph) -> Catalog:
    """Read a catalog from YAML/JSON (or a mapping) and check it against ``graph``."""
    return build_catalog(read_mapping(source), graph)


def default_catalog(graph: nx.DiGraph) -> Catalog:
    """The shipped catalog of activities for the default educator framework."""
    ref = resources.files("recommender.data").joinpath("catalog_educator.yaml")
    return build_catalog(yaml.safe_load(ref.read_text(encoding="utf-8")), graph)
