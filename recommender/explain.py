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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ranker calls this module: at run time it imports nothing of it
    from recommender.ranking.index import RankingIndex
    from recommender.ranking.mastery import MasteryTable
    from recommender.ranking.requests import EducatorContext, RankingRequest

__all__ = ["Recommendation", "explain_pick"]

_N_CONTRIBUTIONS = 5
"""How many model contributions an explanation lists (largest absolute value first)."""


@dataclass(frozen=True)
class Recommendation:
    """One ranked activity and why.

    ``reason`` is one sentence a coach can read. ``explanation`` holds: ``targets`` (list of
    ``{competency_id, name, p_mastery, uncertainty, weight, gain}``), ``ready_because`` (direct
    prerequisites of unmastered targets at or above ``gate_threshold``: ``{competency_id, name,
    p_mastery}``), ``prerequisite_gaps`` (those below it; only possible without the hard gate or
    for a pin), ``evidence_ids`` (from this educator's table only), ``top_contributions`` (``{
    competency_id, feature, value}``), ``expected_gain``, ``goal`` (the goal id it serves or
    None), ``model_version`` and ``score_parts`` (``need, readiness, gain, cost, goal,
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
    evidence_ids, contribs = _citations(table, targets, ready)
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
        "top_contributions": contribs,
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


def _citations(table: MasteryTable, targets: list[dict], ready: list[dict]
               ) -> tuple[list[str], list[dict]]:
    """Evidence ids behind the targets and ready prerequisites; the largest contributions."""
    cited = [t["competency_id"] for t in targets] + [r["competency_id"] for r in ready]
    evidence_ids = list(dict.fromkeys(e for c in cited for e in table.evidence_ids.get(c, [])))
    contribs = []
    for t in targets:
        c = t["competency_id"]
        for item in table.contributions.get(c, []):
            feat, val = (item[0], item[1]) if not isinstance(item, Mapping) else (
                item.get("feature"), item.get("value"))
            contribs.append({"competency_id": c, "feature": str(feat), "value": float(val)})
    contribs.sort(key=lambda d: -abs(d["value"]))
    return evidence_ids, contribs[:_N_CONTRIBUTIONS]


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
