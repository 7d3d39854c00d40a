"""Explanations of ranked activities: what each one builds, why the educator is ready, what it
rests on, and one sentence a coach can check.

:func:`explain_pick` turns one pick of the ranker into a :class:`Recommendation`. Its
``explanation`` names the activity's targets with their mastery (the **lead** target is the
unmastered one with the most weighted headroom), the direct prerequisites of unmastered targets
that make it ready (``ready_because``, at or above ``gate_threshold``) or hold it back
(``prerequisite_gaps``), the goal it serves (a target that is a goal first, else a goal one of
its unmastered targets is a prerequisite of, in the goals' order), the evidence ids of the
educator's own table behind the targets and the ready prerequisites, the model's largest
contributions, and the score parts. ``reason`` says the same in one sentence.

Citing evidence. The ranker sees only a mastery table; what a coach checks is the evidence
under it. :func:`cite_evidence` picks, per target competency, the educator's own records most
influential first (then most recent), and :func:`describe_contributions` says in words what the
estimate rests on: the records grouped by source on their own scale, the activities completed
on the competency and its direct prerequisites' mastery. :func:`cite_recommendations` puts both
into the explanations of ranked items (``evidence`` and ``contributions`` on each target), and
fills ``evidence_ids`` and ``top_contributions`` from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the ranker calls this module: at run time it imports nothing of it
    import networkx as nx

    from recommender.catalog import Catalog
    from recommender.ranking.index import RankingIndex
    from recommender.ranking.mastery import MasteryTable
    from recommender.ranking.requests import EducatorContext, RankingRequest

__all__ = [
    "Citation",
    "Contribution",
    "Recommendation",
    "cite_evidence",
    "cite_recommendations",
    "describe_contributions",
    "explain_pick",
]

_N_CONTRIBUTIONS = 5
"""How many contributions an explanation's ``top_contributions`` lists."""

ContributionKind = Literal["evidence", "completion", "prerequisite", "model"]

_NOUNS = {  # (one, many) per evidence source, as a coach says them
    "observation": ("observation score", "observation scores"),
    "micro_credential": ("micro-credential", "micro-credentials"),
    "student_growth": ("student-growth measure", "student-growth measures"),
    "self_assessment": ("self-assessment", "self-assessments"),
    "activity_assessment": ("activity assessment", "activity assessments"),
    "peer_review": ("peer review", "peer reviews"),
}
_CITE_REQUIRED = ("evidence_id", "educator_id", "competency_id", "source", "score", "observed_at")


@dataclass(frozen=True)
class Citation:
    """One of the educator's own evidence records behind an estimate, as a coach reads it.

    ``score`` is on the record's own scale ``[scale_min, scale_max]``; ``observed_at`` is UTC.
    ``influence`` is how far the record moved the mastery belief (logits, from
    :meth:`recommender.estimate.MasteryEstimator.influence`); None when it was not measured or
    the record acted through the model prior.
    """

    evidence_id: str
    source: str
    score: float
    scale_min: float
    scale_max: float
    observed_at: datetime
    rater_id: str | None
    influence: float | None


@dataclass(frozen=True)
class Contribution:
    """One thing an estimate rests on, in words a coach reads.

    ``kind`` is ``evidence`` (the records of one source on one scale), ``completion`` (an
    activity completed on the competency), ``prerequisite`` (a direct prerequisite's mastery) or
    ``model`` (a feature contribution the mastery table supplied). ``value`` is the number the
    text quotes (the mean score, the share proficient for micro-credentials, the prerequisite's
    mastery, the feature's contribution); None for a completion.
    """

    kind: ContributionKind
    text: str
    competency_id: str
    value: float | None


@dataclass(frozen=True)
class Recommendation:
    """One ranked activity and why.

    ``reason`` is one sentence a coach can read. ``explanation`` holds: ``targets`` (list of
    ``{competency_id, name, p_mastery, uncertainty, weight, gain, evidence, contributions}``:
    ``evidence`` the cited records as :class:`Citation` dicts, ``contributions`` what the
    estimate rests on as :class:`Contribution` dicts, both empty until
    :func:`cite_recommendations` fills them, except the table's own model contributions),
    ``ready_because`` (direct prerequisites of unmastered targets at or above
    ``gate_threshold``: ``{competency_id, name, p_mastery}``), ``prerequisite_gaps`` (those below
    it; only possible without the hard gate or for a pin), ``evidence_ids`` (from this
    educator's own records only), ``top_contributions`` (the most important
    :class:`Contribution` dicts over the targets), ``expected_gain``, ``goal`` (the goal id it
    serves or None), ``model_version`` and ``score_parts`` (``need, readiness, gain, cost, goal,
    diversity_penalty``; ``score`` equals the weighted parts minus the penalty).
    """

    activity_id: str
    title: str
    format: str
    hours: float
    score: float
    reason: str
    explanation: dict
    pinned: bool = False


def explain_pick(arr: RankingIndex, table: MasteryTable, context: EducatorContext,
                 request: RankingRequest, a: int, *, parts: Mapping[str, float], score: float,
                 pinned: bool, model_version: str | None, missing_uncertainty: float
                 ) -> Recommendation:
    """Explain activity ``a`` (its row in ``arr``) picked for the educator of ``table``.

    ``parts`` are its score parts (``need, readiness, gain, cost, goal, diversity_penalty``)
    and ``score`` its diversity-adjusted score; ``missing_uncertainty`` is reported for a target
    the table does not have.
    """
    targets = _targets(arr, table, a, missing_uncertainty)
    unmastered = [t for t in targets if t["p_mastery"] < request.mastery_threshold]
    lead = sorted(unmastered or targets,
                  key=lambda t: (-t["weight"] * (1 - t["p_mastery"]), -t["weight"],
                                 t["competency_id"]))[0]
    ready, gaps = _prerequisites(arr, table, unmastered, lead, request.gate_threshold)
    goal_id, goal_is_target = _goal_served(arr, context, unmastered)
    evidence_ids = _table_evidence_ids(table, targets, ready)
    for t in targets:
        t["evidence"] = []
        t["contributions"] = _model_contributions(table, t["competency_id"])
    parts = dict(parts)
    hours = float(arr.hours[a])
    text = _reason(arr, table, lead, ready, gaps, goal_id, goal_is_target)
    text += f"; {hours:g} h, expected gain +{parts['gain']:.2f}."
    if pinned:
        text = "Pinned by your coach: " + text[0].lower() + text[1:]
    explanation = {
        "targets": targets,
        "ready_because": ready,
        "prerequisite_gaps": gaps,
        "evidence_ids": evidence_ids,
        "top_contributions": _top_contributions(targets),
        "expected_gain": parts["gain"],
        "goal": goal_id,
        "model_version": model_version,
        "score_parts": parts,
    }
    aid = str(arr.activity_ids[a])
    return Recommendation(activity_id=aid, title=arr.titles[aid], format=str(arr.formats[a]),
                          hours=hours, score=score, reason=text, explanation=explanation,
                          pinned=pinned)


def _targets(arr: RankingIndex, table: MasteryTable, a: int, missing_uncertainty: float
             ) -> list[dict]:
    """The activity's targets, primary first: mastery, uncertainty, weight and gain of each."""
    comps = arr.competencies
    targets = []
    for kk in range(arr.tidx.shape[1]):
        j = int(arr.tidx[a, kk])
        if j == len(comps):
            continue
        c = comps[j]
        unc = table.uncertainty.get(c) if c in table.p else missing_uncertainty
        targets.append({"competency_id": c, "name": arr.names[c], "p_mastery": table.p_of(c),
                        "uncertainty": unc, "weight": float(arr.tw[a, kk]),
                        "gain": float(arr.tgain[a, kk])})
    return targets


def _prerequisites(arr: RankingIndex, table: MasteryTable, unmastered: list[dict], lead: dict,
                   gate: float) -> tuple[list[dict], list[dict]]:
    """Direct prerequisites of the unmastered targets, the lead's first, strongest first:
    those at or above ``gate`` (ready) and those below (gaps), each listed once."""
    ready, gaps, seen = [], [], set()
    for t in sorted(unmastered, key=lambda t: t is not lead):
        for q in sorted(arr.predecessors[t["competency_id"]],
                        key=lambda q: (-table.p_of(q), q)):
            if q in seen:
                continue
            seen.add(q)
            item = {"competency_id": q, "name": arr.names[q], "p_mastery": table.p_of(q)}
            (ready if table.p_of(q) >= gate else gaps).append(item)
    return ready, gaps


def _goal_served(arr: RankingIndex, context: EducatorContext, unmastered: list[dict]
                 ) -> tuple[str | None, bool]:
    """The goal the activity serves and whether it is one of its targets (None, False: none)."""
    open_targets = [t["competency_id"] for t in sorted(unmastered, key=lambda t: -t["weight"])]
    for gl in context.goals:  # a target that is itself a goal first, in the goals' order
        if gl in open_targets:
            return gl, True
    for gl in context.goals:
        ancestors = arr.ancestor_sets[gl]
        if any(c in ancestors for c in open_targets):
            return gl, False
    return None, False


def _table_evidence_ids(table: MasteryTable, targets: list[dict], ready: list[dict]
                        ) -> list[str]:
    """Evidence ids the mastery table lists behind the targets and the ready prerequisites."""
    cited = [t["competency_id"] for t in targets] + [r["competency_id"] for r in ready]
    return list(dict.fromkeys(e for c in cited for e in table.evidence_ids.get(c, [])))


def _model_contributions(table: MasteryTable, c: str) -> list[dict]:
    """The table's feature contributions to ``c`` (``(feature, value)`` pairs or mappings),
    largest absolute value first, as :class:`Contribution` dicts."""
    out = []
    for item in table.contributions.get(c, []):
        feat, val = (item[0], item[1]) if not isinstance(item, Mapping) else (
            item.get("feature"), item.get("value"))
        out.append(Contribution("model", f"model feature {feat}: {float(val):+.2f}", c,
                                float(val)))
    out.sort(key=lambda x: -abs(x.value))
    return [asdict(x) for x in out]


def _top_contributions(targets: list[dict]) -> list[dict]:
    """The most important contributions over all targets: each target's first, then each
    target's second, ... (targets in their order, primary first), at most
    :data:`_N_CONTRIBUTIONS`."""
    ranked = [(i, j, item) for j, t in enumerate(targets)
              for i, item in enumerate(t["contributions"])]
    ranked.sort(key=lambda x: (x[0], x[1]))
    return [item for _, _, item in ranked[:_N_CONTRIBUTIONS]]


def _mastery_text(table: MasteryTable, c: str) -> str:
    if c not in table.p:
        return "not yet assessed"
    u = table.uncertainty.get(c)
    return f"mastery {table.p[c]:.2f}" + (f" ± {u:.2f}" if u is not None else "")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _reason(arr: RankingIndex, table: MasteryTable, lead: dict, ready: list[dict],
            gaps: list[dict], goal_id: str | None, goal_is_target: bool) -> str:
    """The sentence up to the hours: what it builds, readiness, gaps, the goal it serves."""
    lc = lead["competency_id"]
    text = f"Builds {lead['name']} ({_mastery_text(table, lc)})"
    lead_preds = set(arr.predecessors[lc])
    lead_ready = [r for r in ready if r["competency_id"] in lead_preds][:2]
    lead_gaps = [r for r in gaps if r["competency_id"] in lead_preds][:2]
    if lead_ready:
        text += ", which you are ready for since " + _join(
            [f"{r['name']} is at {r['p_mastery']:.2f}" for r in lead_ready])
    if lead_gaps:
        text += ", although " + _join(
            [f"{r['name']} is only at {r['p_mastery']:.2f}" for r in lead_gaps])
    if goal_id is not None:
        gname = arr.names[goal_id]
        text += (f", and is your goal {gname}" if goal_is_target
                 else f", and leads toward your goal {gname}")
    return text


# -- citing the evidence under an estimate --------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Records:
    """An educator's records on the asked competencies, as aligned numpy arrays.

    ``comp`` is each record's position in ``comps``; ``t`` its time in ns (UTC); ``influence``
    NaN where unmeasured; ``proficient`` None when the frame has no such column.
    """

    comps: list[str]
    comp: np.ndarray
    evidence_id: np.ndarray
    source: np.ndarray
    score: np.ndarray
    scale_min: np.ndarray
    scale_max: np.ndarray
    t: np.ndarray
    rater_id: np.ndarray
    influence: np.ndarray
    proficient: np.ndarray | None


def _own_records(evidence: pd.DataFrame, educator_id: str, comps: list[str],
                 influence: pd.Series | None) -> _Records:
    """The educator's records on ``comps``, checked at the door: the columns of
    :data:`_CITE_REQUIRED` must be there (``scale_min``/``scale_max`` default to the 1-4
    rubric, ``rater_id`` to None) and ``influence``, when given, must be a Series matched to
    the frame by its (unique) index."""
    if not isinstance(evidence, pd.DataFrame):
        raise TypeError(f"evidence must be a DataFrame; got {type(evidence).__name__}")
    missing = [c for c in _CITE_REQUIRED if c not in evidence.columns]
    if missing:
        raise ValueError(f"evidence is missing column(s) {missing}; expected at least "
                         f"{list(_CITE_REQUIRED)}, got {list(evidence.columns)}")
    if influence is not None and not isinstance(influence, pd.Series):
        raise TypeError("influence must be a pandas Series aligned with the evidence frame's "
                        f"index; got {type(influence).__name__}")
    comp = pd.Index(comps, dtype=object).get_indexer(evidence["competency_id"].to_numpy(object))
    rows = np.flatnonzero((evidence["educator_id"].to_numpy(object) == educator_id) & (comp >= 0))

    def col(name: str, default=None, numeric: bool = False) -> np.ndarray:
        if name not in evidence.columns:
            return np.full(len(rows), default, dtype=float if numeric else object)
        values = evidence[name]
        if numeric and not pd.api.types.is_numeric_dtype(values):
            values = pd.to_numeric(values, errors="coerce")
        return values.to_numpy(float if numeric else None)[rows]

    inf = np.full(len(rows), np.nan)
    if influence is not None:
        if not (evidence.index.is_unique and influence.index.is_unique):
            raise ValueError("influence is matched to evidence by index: both indexes must be "
                             "unique (reset the evidence frame's index before estimating)")
        inf = pd.to_numeric(influence.reindex(evidence.index[rows]), errors="coerce") \
            .to_numpy(float)
    times = pd.DatetimeIndex(pd.to_datetime(evidence["observed_at"], utc=True)).as_unit("ns")
    return _Records(
        comps=comps, comp=comp[rows], evidence_id=col("evidence_id").astype(str),
        source=col("source").astype(str), score=col("score", numeric=True),
        scale_min=np.nan_to_num(col("scale_min", 1.0, numeric=True), nan=1.0),
        scale_max=np.nan_to_num(col("scale_max", 4.0, numeric=True), nan=4.0),
        t=times.asi8[rows], rater_id=col("rater_id"), influence=inf,
        proficient=col("proficient").astype(bool) if "proficient" in evidence.columns else None)


def _first_k(group: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Of ``order`` (positions sorted by ``group`` first), those among the first ``k`` of their
    group."""
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, np.int64)
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return order[rank < k]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (how many items per competency); got {k!r}")


def _none_if_missing(x) -> float | str | None:
    """None for a missing scalar (None, NaN, pd.NA), else the value."""
    return None if pd.isna(x) else x


def _utc(ns: int) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


def _cite(rec: _Records, k: int) -> dict[str, list[Citation]]:
    # most influential first (NaN after every measured one), then newest, then by id
    inf_key = np.where(np.isnan(rec.influence), np.inf, -np.nan_to_num(rec.influence))
    order = np.lexsort((rec.evidence_id, -rec.t, inf_key, rec.comp))
    out: dict[str, list[Citation]] = {c: [] for c in rec.comps}
    for i in _first_k(rec.comp, order, k).tolist():  # at most k per competency: the handful
        out[rec.comps[rec.comp[i]]].append(Citation(
            evidence_id=str(rec.evidence_id[i]), source=str(rec.source[i]),
            score=float(rec.score[i]), scale_min=float(rec.scale_min[i]),
            scale_max=float(rec.scale_max[i]), observed_at=_utc(rec.t[i]),
            rater_id=_none_if_missing(rec.rater_id[i]),
            influence=_none_if_missing(float(rec.influence[i]))))
    return out


def cite_evidence(evidence: pd.DataFrame, educator_id: str, competency_ids: Iterable[str], *,
                  influence: pd.Series | None = None, k: int = 5
                  ) -> dict[str, list[Citation]]:
    """The educator's own records behind each competency's estimate: at most ``k`` each.

    Records are ordered most influential first (``influence``: how far each record moved the
    mastery belief, in logits, aligned with ``evidence``'s index; NaN, e.g. for records that
    acted through the model prior, comes after every measured one), then most recent first,
    then by ``evidence_id``. Without ``influence`` the order is by recency. Only rows of
    ``educator_id`` on the asked competencies are read, so another educator's record, or a
    record on another competency, is never cited.

    Parameters
    ----------
    evidence : DataFrame
        ``evidence_id, educator_id, competency_id, source, score, observed_at`` and optionally
        ``scale_min, scale_max`` (default 1 and 4) and ``rater_id``; any educators.
    educator_id : str
    competency_ids : iterable of str
        Every one is a key of the answer (an empty list when the educator has no record on it).
    influence : Series, optional
        From :meth:`recommender.estimate.MasteryEstimator.influence` on the same frame.
    k : int, default=5

    Examples
    --------
    >>> ev = pd.DataFrame({"evidence_id": ["a", "b"], "educator_id": ["T1", "T1"],
    ...     "competency_id": ["FA", "FA"], "source": ["observation"] * 2, "score": [2, 3],
    ...     "observed_at": ["2026-01-05", "2026-03-01"]})
    >>> [c.evidence_id for c in cite_evidence(ev, "T1", ["FA"])["FA"]]
    ['b', 'a']
    """
    _check_k(k)
    return _cite(_own_records(evidence, educator_id, list(dict.fromkeys(competency_ids)),
                              influence), k)


def _of_scale(lo: float, hi: float) -> str:
    """``of 4`` for a scale from 0 or 1, ``on the 2-6 scale`` otherwise."""
    return f"of {hi:g}" if lo in (0.0, 1.0) else f"on the {lo:g}-{hi:g} scale"


def _evidence_text(source: str, n: int, mean: float, n_proficient: float | None, lo: float,
                   hi: float, latest: str) -> tuple[str, float]:
    """One source group in words, and the number it quotes."""
    one, many = _NOUNS.get(source, (source.replace("_", " ") + " record",
                                    source.replace("_", " ") + " records"))
    if source == "micro_credential" and n_proficient is not None:
        if n == 1:
            return (f"1 {one}: {'proficient' if n_proficient else 'not yet proficient'} "
                    f"({latest})", float(n_proficient))
        return f"{n} {many}: {int(n_proficient)} proficient (latest {latest})", n_proficient / n
    if n == 1:
        return f"1 {one}: {mean:.3g} {_of_scale(lo, hi)} ({latest})", mean  # 45.8, not 45.8109
    return f"{n} {many} averaging {mean:.1f} {_of_scale(lo, hi)} (latest {latest})", mean


def _evidence_contributions(rec: _Records, k: int) -> dict[str, list[Contribution]]:
    """The records grouped by (competency, source, scale): count, mean score, proficient
    count, latest time and summed |influence| per group (numpy), the first ``k`` groups of
    each competency in words."""
    out: dict[str, list[Contribution]] = {c: [] for c in rec.comps}
    if not len(rec.comp):
        return out
    src_code, sources = pd.factorize(rec.source)
    lo_code, los = pd.factorize(rec.scale_min)
    hi_code, his = pd.factorize(rec.scale_max)
    key = ((rec.comp * len(sources) + src_code) * len(los) + lo_code) * len(his) + hi_code
    keys, group = np.unique(key, return_inverse=True)
    n = np.bincount(group)
    mean = np.bincount(group, weights=rec.score) / n
    weight = np.bincount(group, weights=np.nan_to_num(np.abs(rec.influence)))
    prof = (np.bincount(group, weights=rec.proficient.astype(float))
            if rec.proficient is not None else None)
    latest = np.full(len(keys), np.iinfo(np.int64).min)
    np.maximum.at(latest, group, rec.t)
    first = np.zeros(len(keys), np.int64)  # one record of each group, for its labels
    first[group] = np.arange(len(group))
    g_comp = rec.comp[first]
    order = np.lexsort((sources[src_code[first]].astype(str), -latest, -n, -weight, g_comp))
    for g in _first_k(g_comp, order, k).tolist():
        i = first[g]
        text, value = _evidence_text(
            str(rec.source[i]), int(n[g]), float(mean[g]),
            None if prof is None else float(prof[g]), float(rec.scale_min[i]),
            float(rec.scale_max[i]), _utc(latest[g]).date().isoformat())
        c = rec.comps[rec.comp[i]]
        out[c].append(Contribution("evidence", text, c, value))
    return out


def _completion_contributions(completions: pd.DataFrame, catalog: Catalog, educator_id: str,
                              comps: list[str], k: int) -> dict[str, list[Contribution]]:
    """Activities the educator completed on each competency, most recent first."""
    out: dict[str, list[Contribution]] = {c: [] for c in comps}
    done = completions.loc[(completions["educator_id"].to_numpy(object) == educator_id),
                           ["activity_id", "completed_at"]]
    if not len(done):
        return out
    targets = catalog.targets
    targets = targets.loc[targets["competency_id"].isin(comps), ["activity_id", "competency_id"]]
    done = (done.assign(completed_at=pd.to_datetime(done["completed_at"], utc=True))
            .merge(targets, on="activity_id")
            .sort_values(["competency_id", "completed_at", "activity_id"],
                         ascending=[True, False, True], kind="stable")
            .groupby("competency_id", sort=False).head(k))
    titles = catalog.activities["title"]
    for r in done.itertuples(index=False):
        title = titles.get(r.activity_id, r.activity_id)
        out[r.competency_id].append(Contribution(
            "completion", f"completed '{title}' on {r.completed_at.date().isoformat()}",
            r.competency_id, None))
    return out


def _contributions(rec: _Records, educator_id: str, *, graph: nx.DiGraph,
                   mastery: Mapping[str, float], completions: pd.DataFrame | None,
                   catalog: Catalog | None, k: int) -> dict[str, list[Contribution]]:
    out = _evidence_contributions(rec, k)
    if completions is not None and catalog is not None and len(completions):
        for c, items in _completion_contributions(completions, catalog, educator_id,
                                                  rec.comps, k).items():
            out[c].extend(items)
    for c in rec.comps:
        room = k - len(out[c])
        if room > 0 and c in graph:
            prereqs = sorted(graph.predecessors(c),
                             key=lambda q: (float(mastery.get(q, 0.0)), q))
            for q in prereqs[:room]:
                p = float(mastery.get(q, 0.0))
                name = graph.nodes[q].get("name", q)
                out[c].append(Contribution("prerequisite", f"prerequisite {name} at {p:.2f}",
                                           c, p))
        out[c] = out[c][:k]
    return out


def describe_contributions(evidence: pd.DataFrame, educator_id: str,
                           competency_ids: Iterable[str], *, graph: nx.DiGraph,
                           mastery: Mapping[str, float],
                           completions: pd.DataFrame | None = None,
                           catalog: Catalog | None = None,
                           influence: pd.Series | None = None, k: int = 5
                           ) -> dict[str, list[Contribution]]:
    """What each competency's estimate rests on, in words a coach reads, most important first.

    Per competency, at most ``k`` of, in this order:

    - ``evidence``: the educator's records grouped by source and scale (each record's own
      ``scale_min``/``scale_max``), e.g. ``"3 observation scores averaging 2.1 of 4 (latest
      2026-10-02)"``; micro-credentials by proficiency (``"1 micro-credential: proficient"``,
      needs a ``proficient`` column). Groups that moved the belief most (summed ``influence``)
      come first, then the larger, then the more recent;
    - ``completion``: activities completed on the competency, most recent first (``"completed
      'Formative assessment PLC cycle' on 2026-09-12"``; needs ``completions`` and ``catalog``);
    - ``prerequisite``: its direct prerequisites in ``graph`` with their mastery, weakest first
      (``"prerequisite Assessment literacy at 0.59"``; a competency missing from ``mastery``
      is at 0).

    Dates are ISO dates (UTC). ``evidence`` and ``influence`` are as in :func:`cite_evidence`;
    ``completions`` has ``educator_id, activity_id, completed_at``.
    """
    _check_k(k)
    rec = _own_records(evidence, educator_id, list(dict.fromkeys(competency_ids)), influence)
    return _contributions(rec, educator_id, graph=graph, mastery=mastery,
                          completions=completions, catalog=catalog, k=k)


def cite_recommendations(recommendations: Sequence[Recommendation], evidence: pd.DataFrame,
                         educator_id: str, *, graph: nx.DiGraph, mastery: Mapping[str, float],
                         completions: pd.DataFrame | None = None,
                         catalog: Catalog | None = None,
                         influence: pd.Series | None = None, k: int = 5
                         ) -> list[Recommendation]:
    """The ranked items with, on every target, the cited records and the contributions.

    One pass of :func:`cite_evidence` and :func:`describe_contributions` over all the items'
    targets (the evidence is read once); each target's ``evidence`` becomes its citations and
    its ``contributions`` the worded ones followed by any model contributions the table gave
    (at most ``k``); ``evidence_ids`` lists every cited record once (targets in order) and
    ``top_contributions`` the most important contributions over the targets. Returns new
    :class:`Recommendation` objects; the inputs are not changed.
    """
    _check_k(k)
    comps = list(dict.fromkeys(t["competency_id"] for r in recommendations
                               for t in r.explanation["targets"]))
    rec = _own_records(evidence, educator_id, comps, influence)
    cited = _cite(rec, k)
    worded = _contributions(rec, educator_id, graph=graph, mastery=mastery,
                            completions=completions, catalog=catalog, k=k)
    out = []
    for r in recommendations:
        targets = []
        for t in r.explanation["targets"]:
            c = t["competency_id"]
            targets.append({**t, "evidence": [dict(vars(x)) for x in cited[c]],
                            "contributions": ([dict(vars(x)) for x in worded[c]]
                                              + list(t.get("contributions", [])))[:k]})
        ids = list(dict.fromkeys(x["evidence_id"] for t in targets for x in t["evidence"]))
        explanation = {**r.explanation, "targets": targets, "evidence_ids": ids,
                       "top_contributions": _top_contributions(targets)}
        out.append(replace(r, explanation=explanation))
    return out
