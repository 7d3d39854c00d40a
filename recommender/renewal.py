"""Licensure-renewal rules, the credit activities earn, and an educator's progress.

A tenant's **rules document** (YAML, JSON or a mapping; ``docs/renewal.md``)::

    name: State professional licence renewal
    window_years: 5              # credit counts when completed in the 5 years before the deadline
    deadline: 2027-06-30         # optional: a common deadline (else the caller passes one)
    rules:                       # each: id, kind (total | category), hours (> 0)
      - {id: total, kind: total, hours: 150}
      - {id: instructional, kind: category, category: instructional, hours: 30}
    caps: {video_reflection: 20} # optional: at most 20 credited hours of a format count per rule
    multipliers: {coaching_cycle: 1.5}  # optional: credit = credit_hours x multiplier

**Credit.** An activity earns ``credit_hours`` (catalog, default its ``hours``) times the
multiplier of its format (default 1). A ``total`` rule counts every activity; a ``category`` rule
counts the activities in that category (:func:`activity_credit`: the catalog's declared
``categories``, else the framework domains of the activity's target competencies). A ``cap`` on a
format limits the credited hours of that format counted toward each rule, completed and planned
together (:func:`credited`, the one definition the progress report, the planner and its tests
use). A completion counts once per time it was recorded (a repeatable activity taken twice
earns twice) when it falls in ``(deadline - window_years, deadline]``.

:func:`build_rules` checks every field and names each problem (field, value, expected) in one
:class:`RenewalRulesError`; :func:`renewal_progress` reports hours earned per rule, what is
missing and by when. The planner is :mod:`recommender.renewal_plan`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog, derive_categories
from recommender.errors import DocumentProblems
from recommender.graph.framework import read_mapping

__all__ = ["RULE_KINDS", "ActivityCredit", "RenewalProgress", "RenewalRules", "RenewalRulesError",
           "Rule", "RuleProgress", "activity_credit", "build_rules", "credited", "load_rules",
           "renewal_progress", "rules_to_dict", "window_counts"]

RULE_KINDS = ("total", "category")
MAX_HOURS = 1e5
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class RenewalRulesError(DocumentProblems):
    """A rules document that does not validate; ``problems`` holds every
    ``(field, value, expected)`` found."""

    what = "renewal rules have"


@dataclass(frozen=True)
class Rule:
    """One requirement: ``hours`` of credit in total or in ``category``."""

    id: str
    kind: str
    hours: float
    category: str | None = None


@dataclass(frozen=True)
class RenewalRules:
    """A validated rules document (:func:`build_rules`)."""

    name: str
    window_years: int
    rules: tuple[Rule, ...]
    caps: Mapping[str, float] = field(default_factory=dict)
    multipliers: Mapping[str, float] = field(default_factory=dict)
    deadline: pd.Timestamp | None = None

    def resolve_deadline(self, deadline: object = None) -> pd.Timestamp:
        """``deadline`` (any date pandas reads) or the document's; neither: an error naming it."""
        if deadline is None:
            if self.deadline is None:
                raise RenewalRulesError([("deadline", None, "a date: the rules set none, so "
                                          "the request must pass one")])
            return self.deadline
        return _timestamp("deadline", deadline)

    def window_start(self, deadline: pd.Timestamp) -> pd.Timestamp:
        """The first moment after which completions count."""
        return deadline - pd.DateOffset(years=self.window_years)


def _number(problems: list, name: str, value: object, lo: float = 0.0,
            hi: float = MAX_HOURS) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and lo < value <= hi
    if not ok:
        problems.append((name, value, f"a number in ({lo:g}, {hi:g}]"))
        return 0.0
    return float(value)


def _timestamp(name: str, value: object) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value if not isinstance(value, date | datetime) else str(value))
    except (ValueError, TypeError):
        ts = None
    if ts is None or pd.isna(ts) or not 1970 <= ts.year < 2200:
        raise RenewalRulesError([(name, value, "a date from 1970 to 2199, such as 2027-06-30")])
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _rule(problems: list, pos: int, item: object) -> Rule | None:
    where = f"rules[{pos}]"
    if not isinstance(item, Mapping):
        problems.append((where, item, "a mapping with id, kind and hours"))
        return None
    rid, kind, cat = item.get("id"), item.get("kind"), item.get("category")
    if not isinstance(rid, str) or not _ID.match(rid):
        problems.append((f"{where}.id", rid, "1 to 64 letters, digits or _.:-"))
    if kind not in RULE_KINDS:
        problems.append((f"{where}.kind", kind, f"one of {list(RULE_KINDS)}"))
    hours = _number(problems, f"{where}.hours", item.get("hours"))
    if kind == "category" and (not isinstance(cat, str) or not cat.strip()):
        problems.append((f"{where}.category", cat, "a category name (kind category)"))
    if kind == "total" and cat is not None:
        problems.append((f"{where}.category", cat, "no category on a total rule"))
    extra = sorted(set(item) - {"id", "kind", "hours", "category"})
    if extra:
        problems.append((f"{where}", extra, "only id, kind, hours and category"))
    return Rule(str(rid), str(kind), hours, cat if kind == "category" else None)


def _per_format(problems: list, name: str, value: object, hi: float,
                formats: Iterable[str] | None) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append((name, value, "a mapping of format to a number"))
        return {}
    allowed = None if formats is None else list(formats)
    out = {}
    for f, v in value.items():
        if allowed is not None and f not in allowed:
            problems.append((f"{name}.{f}", f, f"a format of the catalog, one of {allowed}"))
        out[str(f)] = _number(problems, f"{name}.{f}", v, hi=hi)
    return out


def build_rules(data: Mapping, formats: Iterable[str] | None = None) -> RenewalRules:
    """Validate a rules mapping (``formats``: the catalog's format words the caps and
    multipliers must use; None: not checked) and return :class:`RenewalRules`.

    Raises
    ------
    RenewalRulesError
        Naming every field, its value and what was expected.
    """
    if not isinstance(data, Mapping):
        raise RenewalRulesError([("rules document", data, "a mapping")])
    problems: list[tuple[str, object, str]] = []
    extra = sorted(set(data) - {"name", "window_years", "deadline", "rules", "caps",
                                "multipliers"})
    if extra:
        problems.append(("rules document", extra, "only name, window_years, deadline, rules, "
                                                  "caps and multipliers"))
    years = data.get("window_years")
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 50:
        problems.append(("window_years", years, "a whole number of years in [1, 50]"))
    items = data.get("rules")
    if not isinstance(items, list) or not items:
        problems.append(("rules", items, "a non-empty list of rules"))
        items = []
    rules = [r for pos, it in enumerate(items) if (r := _rule(problems, pos, it)) is not None]
    ids = [r.id for r in rules]
    problems += [("rules", d, "unique rule ids") for d in sorted({i for i in ids
                                                                  if ids.count(i) > 1})]
    caps = _per_format(problems, "caps", data.get("caps"), MAX_HOURS, formats)
    mult = _per_format(problems, "multipliers", data.get("multipliers"), 10.0, formats)
    deadline = None
    if data.get("deadline") is not None:
        try:
            deadline = _timestamp("deadline", data["deadline"])
        except RenewalRulesError as exc:
            problems += exc.problems
    if problems:
        raise RenewalRulesError(problems)
    return RenewalRules(str(data.get("name") or ""), int(years), tuple(rules), caps, mult,
                        deadline)


def load_rules(source: str | Path | Mapping, formats: Iterable[str] | None = None
               ) -> RenewalRules:
    """Read a rules document from YAML/JSON (or a mapping) and validate it."""
    return build_rules(read_mapping(source), formats)


def rules_to_dict(rules: RenewalRules) -> dict:
    """The document :func:`build_rules` reads back to ``rules`` (JSON-ready)."""
    out: dict = {"name": rules.name, "window_years": rules.window_years,
                 "rules": [{"id": r.id, "kind": r.kind, "hours": r.hours}
                           | ({"category": r.category} if r.category else {})
                           for r in rules.rules]}
    if rules.caps:
        out["caps"] = dict(rules.caps)
    if rules.multipliers:
        out["multipliers"] = dict(rules.multipliers)
    if rules.deadline is not None:
        out["deadline"] = rules.deadline.date().isoformat()
    return out


@dataclass(frozen=True)
class ActivityCredit:
    """Per catalog activity (``ids`` order): time ``hours``, renewal ``credit`` (multiplier
    applied), ``format``, and ``scope[r, a]``: activity ``a`` counts toward rule ``r``."""

    ids: np.ndarray
    hours: np.ndarray
    credit: np.ndarray
    format: np.ndarray
    scope: np.ndarray


def activity_categories(catalog: Catalog, graph: nx.DiGraph) -> pd.DataFrame:
    """``(activity_id, category)`` pairs: :attr:`Catalog.categories` (derived at load), or for
    a catalog built without them the target domains (:func:`recommender.catalog.derive_categories`)."""
    if catalog.categories is not None:
        return catalog.categories
    return derive_categories(pd.DataFrame(columns=["activity_id", "category"]), catalog.targets,
                             graph)


def activity_credit(rules: RenewalRules, catalog: Catalog, graph: nx.DiGraph) -> ActivityCredit:
    """The credit every catalog activity earns under ``rules`` and the rules it counts toward."""
    acts = catalog.activities
    hours = acts["hours"].to_numpy(float)
    base = acts["credit_hours"].to_numpy(float) if "credit_hours" in acts else hours
    fmt = acts["format"].to_numpy().astype(str)
    names, inv = np.unique(fmt, return_inverse=True)
    mult = np.array([rules.multipliers.get(f, 1.0) for f in names])[inv]
    pairs = activity_categories(catalog, graph)
    pair_ids = pairs["activity_id"].to_numpy().astype(str)
    pair_cats = pairs["category"].to_numpy().astype(str)
    ids = acts.index.to_numpy().astype(str)
    scope = np.ones((len(rules.rules), len(ids)), dtype=bool)
    for i, r in enumerate(rules.rules):
        if r.kind == "category":
            scope[i] = np.isin(ids, pair_ids[pair_cats == r.category])
    return ActivityCredit(ids, hours, base * mult, fmt, scope)


def credited(rules: RenewalRules, credit: ActivityCredit, counts: np.ndarray) -> np.ndarray:
    """Credited hours per rule when each activity is taken ``counts[a]`` times (completed and
    planned together): per-format sums, each capped format cut to its cap, summed."""
    contrib = credit.scope * (credit.credit * np.asarray(counts, float))[None, :]
    fmts, inv = np.unique(credit.format, return_inverse=True)
    per_format = np.zeros((contrib.shape[0], len(fmts)))
    np.add.at(per_format.T, inv, contrib.T)
    caps = np.array([rules.caps.get(f, np.inf) for f in fmts])
    return np.minimum(per_format, caps[None, :]).sum(axis=1)


def window_counts(rules: RenewalRules, credit: ActivityCredit, completions: pd.DataFrame,
                  deadline: pd.Timestamp) -> tuple[np.ndarray, int]:
    """How many times each activity was completed in the window (``completions``: columns
    ``activity_id`` and ``at``), and how many in-window completions name no catalog activity."""
    at = pd.DatetimeIndex(pd.to_datetime(completions["at"], utc=True))
    inside = np.asarray((at > rules.window_start(deadline)) & (at <= deadline), dtype=bool)
    names = completions["activity_id"].to_numpy().astype(str)[inside]
    pos = pd.Index(credit.ids).get_indexer(names)
    counts = np.bincount(pos[pos >= 0], minlength=len(credit.ids)).astype(float)
    return counts, int((pos < 0).sum())


@dataclass(frozen=True)
class RuleProgress:
    """One rule's state: ``earned`` credited hours, ``missing`` = max(0, required - earned)."""

    rule_id: str
    kind: str
    category: str | None
    required: float
    earned: float
    missing: float
    met: bool


@dataclass(frozen=True)
class RenewalProgress:
    """Every rule's progress by ``deadline`` (``window_start``, ``deadline``], with the days
    left from ``now`` and the in-window completions of activities not in the catalog."""

    deadline: pd.Timestamp
    window_start: pd.Timestamp
    days_left: int
    rules: tuple[RuleProgress, ...]
    completions_counted: int
    completions_unknown: int

    @property
    def met(self) -> bool:
        return all(r.met for r in self.rules)


def progress_rows(rules: RenewalRules, earned: np.ndarray) -> tuple[RuleProgress, ...]:
    """One :class:`RuleProgress` per rule from its credited ``earned`` hours."""
    return tuple(RuleProgress(r.id, r.kind, r.category, r.hours, round(float(e), 6),
                              round(max(0.0, r.hours - float(e)), 6), bool(e >= r.hours - 1e-9))
                 for r, e in zip(rules.rules, earned, strict=True))


def renewal_progress(rules: RenewalRules, catalog: Catalog, graph: nx.DiGraph,
                     completions: pd.DataFrame, *, deadline: object = None,
                     now: pd.Timestamp | None = None) -> RenewalProgress:
    """Hours earned per rule from ``completions`` (``activity_id``, ``at``) in the window."""
    end = rules.resolve_deadline(deadline)
    now = pd.Timestamp.now(tz="UTC") if now is None else _timestamp("now", now)
    credit = activity_credit(rules, catalog, graph)
    counts, unknown = window_counts(rules, credit, completions, end)
    return RenewalProgress(end, rules.window_start(end), max(0, (end - now).days),
                           progress_rows(rules, credited(rules, credit, counts)),
                           int(counts.sum()), unknown)
