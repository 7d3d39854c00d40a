"""A deliberately slow, per-row reference of every feature :class:`FeatureBuilder` emits.

For one query ``(educator, competency, as_of, source)`` each family below filters the evidence to
the educator's records strictly before ``as_of``, in the documented record order (time, then
``evidence_id``), and computes its columns by their definitions in the family modules of
:mod:`recommender.features` with plain Python loops: no scans, no sorting tricks, no shared state
between rows. ``tests/recommender/test_features_reference.py`` checks the builder against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import pandas as pd

from recommender.catalog import Catalog
from recommender.evidence import SOURCES
from recommender.features.graph import ROUNDING

NAN = float("nan")


@dataclass(frozen=True)
class Record:
    """One evidence record, as the reference reads it."""

    evidence_id: str
    educator_id: str
    competency_id: str
    source: str
    score: float
    proficient: bool
    t: pd.Timestamp


@dataclass(frozen=True)
class Inputs:
    """What a frame is built from, as plain Python values."""

    records: list[Record]  # in the documented order: time, then evidence_id
    completions: list[tuple[str, str, pd.Timestamp]]  # educator, activity, completed_at
    profiles: dict[str, dict]  # educator id -> its first profile row


def records(evidence: pd.DataFrame) -> list[Record]:
    """The evidence as records in the documented order: time, then ``evidence_id``."""
    out = [
        Record(str(r.evidence_id), str(r.educator_id), str(r.competency_id), str(r.source),
               float(r.score_norm), bool(r.proficient), pd.Timestamp(r.observed_at))
        for r in evidence.itertuples(index=False)
    ]
    return sorted(out, key=lambda r: (r.t, r.evidence_id))


def inputs(evidence: pd.DataFrame, completions: pd.DataFrame | None,
           educators: pd.DataFrame | None) -> Inputs:
    """The frames a builder reads, as :class:`Inputs`."""
    done = ([] if completions is None else
            [(c.educator_id, c.activity_id, pd.Timestamp(c.completed_at))
             for c in completions.itertuples(index=False)])
    profiles: dict[str, dict] = {}
    for row in [] if educators is None else educators.to_dict("records"):
        profiles.setdefault(row["educator_id"], row)
    return Inputs(records(evidence), done, profiles)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else NAN


def days(later: pd.Timestamp, earlier: pd.Timestamp) -> float:
    return (later - earlier) / pd.Timedelta(days=1)


def decayed_mean(recs: list[Record], values: list[float], as_of: pd.Timestamp, tau: float) -> float:
    """Mean of ``values`` weighted by ``exp(-(as_of - t) / tau)`` (``tau`` in days)."""
    weights = [math.exp(-days(as_of, r.t) / tau) for r in recs]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights) if recs else NAN


class Reference:
    """The features of one query, from their definitions; built like a fitted FeatureBuilder."""

    def __init__(self, graph: nx.DiGraph, catalog: Catalog | None, fit_evidence: pd.DataFrame,
                 fit_educators: pd.DataFrame | None, *, decay_days=180.0, history_length=20,
                 difficulty_smoothing=20.0, proficient_at=2 / 3, recent_window=5,
                 sequence_context=False):
        self.graph = graph
        self.tau, self.history_length = decay_days, history_length
        self.proficient_at, self.recent_window = proficient_at, recent_window
        self.sequence_context = sequence_context
        self.order = list(nx.lexicographical_topological_sort(graph))
        activities = None if catalog is None else catalog.activities
        self.targets = ([] if catalog is None else [  # activity, competency, hours, gain
            (t.activity_id, t.competency_id, t.weight * activities.loc[t.activity_id, "hours"],
             t.weight * activities.loc[t.activity_id, "expected_gain"])
            for t in catalog.targets.itertuples(index=False)])
        self.difficulty = self._learn_difficulty(records(fit_evidence), difficulty_smoothing)
        self.levels = {
            col: {str(v) for v in fit_educators[col].dropna()}
            if fit_educators is not None and col in fit_educators else set()
            for col in ("role", "subject", "grade_band")
        }

    # -- the row ------------------------------------------------------------------------------
    def row(self, data: Inputs, educator_id: str, competency: str, as_of: pd.Timestamp,
            source: str) -> dict[str, object]:
        """Every column of the builder's frame (but ``evidence_id``) for one query."""
        past = [r for r in data.records if r.educator_id == educator_id and r.t < as_of]
        own = [r for r in past if r.competency_id == competency]
        out: dict[str, object] = {
            "educator_id": educator_id, "as_of": as_of, "competency_id": competency,
            "source": source, "domain": self.graph.nodes[competency]["domain"],
        }
        out |= self.own(own, as_of)
        out |= self.graph_family(past, competency, as_of)
        out |= self.domain(past, competency)
        out |= self.educator(past, as_of)
        if self.sequence_context:
            out |= self.sequence(past, own, competency)
        out |= self.dose(data.completions, educator_id, competency, own, as_of)
        out |= {name: values[competency] for name, values in self.difficulty.items()}
        out |= self.profile(data.profiles.get(educator_id, {}))
        return out

    # -- families -----------------------------------------------------------------------------
    def own(self, own: list[Record], as_of: pd.Timestamp) -> dict[str, object]:
        scores = [r.score for r in own]
        last = own[-1] if own else None
        kept = own[-self.history_length:]
        out = {
            "own_n": len(own),
            "own_rate": mean(r.proficient for r in own),
            "own_mean_score": mean(scores),
            "own_last_score": last.score if last else NAN,
            "own_days_since": days(as_of, last.t) if last else NAN,
            "own_trend": scores[-1] - mean(scores[:-1]) if len(own) >= 2 else NAN,
            "own_decay_mean": decayed_mean(own, scores, as_of, self.tau),
            "own_decay_weight": sum(math.exp(-days(as_of, r.t) / self.tau) for r in own),
            "own_recent_rate": mean(r.proficient for r in own[-self.recent_window:]),
            "own_first_score": own[0].score if own else NAN,
            "own_streak": streak([r.proficient for r in kept]),
            "hist_bits": sum(int(r.proficient) << i for i, r in enumerate(kept)),
            "hist_len": len(kept),
        }
        for s in SOURCES:
            of_source = [r.score for r in own if r.source == s]
            out[f"own_n_{s}"] = len(of_source)
            out[f"own_mean_{s}"] = mean(of_source)
        return out

    def graph_family(self, past: list[Record], competency: str,
                     as_of: pd.Timestamp) -> dict[str, object]:
        g = self.graph
        neighbourhoods = {"prereq": set(g.predecessors(competency)),
                          "dep": set(g.successors(competency)),
                          "anc": nx.ancestors(g, competency),
                          "desc": nx.descendants(g, competency)}
        out: dict[str, object] = {}
        for name, neighbours in neighbourhoods.items():
            mastery = []
            for n in neighbours:
                on_n = [r for r in past if r.competency_id == n]
                if on_n:
                    mastery.append(decayed_mean(on_n, [r.score for r in on_n], as_of, self.tau))
            out[f"graph_{name}_mastery"] = mean(mastery)
            out[f"graph_{name}_min"] = min(mastery) if mastery else NAN
            out[f"graph_{name}_n_evidenced"] = len(mastery)
            out[f"graph_{name}_share_proficient"] = (
                sum(m >= self.proficient_at - ROUNDING for m in mastery) / len(neighbours)
                if neighbours
                else NAN
            )
        for name in ("prereq", "dep"):
            latest = self.latest_on(past, neighbourhoods[name])
            out[f"graph_{name}_last_score"] = latest.score if latest else NAN
        out["graph_depth"] = max((len(p) - 1 for a in nx.ancestors(g, competency) | {competency}
                                  for p in nx.all_simple_paths(g, a, competency)), default=0)
        out["graph_n_prereqs"] = len(neighbourhoods["prereq"])
        out["graph_n_dependents"] = len(neighbourhoods["dep"])
        return out

    def latest_on(self, past: list[Record], competencies: set[str]) -> Record | None:
        """The latest record on any of ``competencies``: the latest time; among records at that
        time, the later competency in the framework's lexicographic topological order, then
        the later ``evidence_id`` (see :mod:`recommender.features.graph`)."""
        on = [r for r in past if r.competency_id in competencies]
        return max(on, key=lambda r: (r.t, self.order.index(r.competency_id), r.evidence_id),
                   default=None)

    def domain(self, past: list[Record], competency: str) -> dict[str, object]:
        dom = self.graph.nodes[competency]["domain"]
        same = [r for r in past if r.competency_id != competency
                and self.graph.nodes[r.competency_id]["domain"] == dom]
        return {"dom_n": len(same), "dom_rate": mean(r.proficient for r in same),
                "dom_mean_score": mean(r.score for r in same)}

    def educator(self, past: list[Record], as_of: pd.Timestamp) -> dict[str, object]:
        firsts: dict[str, Record] = {}
        for r in past:
            firsts.setdefault(r.competency_id, r)
        residual = [r.score - self.difficulty["diff_mean_score"][r.competency_id] for r in past]
        return {
            "edu_n": len(past),
            "edu_rate": mean(r.proficient for r in past),
            "edu_mean_score": mean(r.score for r in past),
            "edu_days_active": days(as_of, past[0].t) if past else NAN,
            "edu_last_score": past[-1].score if past else NAN,
            "edu_days_since": days(as_of, past[-1].t) if past else NAN,
            "edu_recent_rate": mean(r.proficient for r in past[-self.recent_window:]),
            "edu_decay_mean": decayed_mean(past, [r.score for r in past], as_of, self.tau),
            "edu_n_competencies": len(firsts),
            "edu_first_mean_score": mean(r.score for r in firsts.values()),
            "edu_mean_residual": mean(residual),
            "edu_decay_residual": decayed_mean(past, residual, as_of, self.tau),
        }

    def sequence(self, past: list[Record], own: list[Record], competency: str) -> dict[str, object]:
        def n_after(record: Record | None) -> float:
            return sum(r.t > record.t for r in past) if record else NAN

        prereqs, deps = set(self.graph.predecessors(competency)), set(self.graph.successors(competency))
        return {
            "edu_last_competency": past[-1].competency_id if past else NAN,
            "edu_prev_competency": past[-2].competency_id if len(past) >= 2 else NAN,
            "edu_prev_score": past[-2].score if len(past) >= 2 else NAN,
            "own_n_between": n_after(own[-1] if own else None),
            "graph_prereq_n_since": n_after(self.latest_on(past, prereqs)),
            "graph_dep_n_since": n_after(self.latest_on(past, deps)),
        }

    def dose(self, completions: list[tuple[str, str, pd.Timestamp]], educator_id: str,
             competency: str, own: list[Record], as_of: pd.Timestamp) -> dict[str, object]:
        doses = [(at, hours, gain)  # (completed_at, hours, gain) of each dose on competency
                 for e, activity, at in completions if e == educator_id and at < as_of
                 for a, c, hours, gain in self.targets if a == activity and c == competency]
        since = [d for d in doses if not own or d[0] > own[-1].t]
        return {"dose_n_since": len(since), "dose_hours_since": sum(d[1] for d in since),
                "dose_gain_since": sum(d[2] for d in since), "dose_n_total": len(doses),
                "dose_gain_total": sum(d[2] for d in doses)}

    def profile(self, row: dict) -> dict[str, object]:
        years = row.get("years_experience")
        out: dict[str, object] = {"prof_years_experience": NAN if years is None else float(years)}
        for col, seen in self.levels.items():
            value = row.get(col)
            out[f"prof_{col}"] = value if value is not None and str(value) in seen else NAN
        return out

    def _learn_difficulty(self, fit: list[Record], k: float) -> dict[str, dict[str, float]]:
        global_rate = mean(r.proficient for r in fit) if fit else 0.5
        global_score = mean(r.score for r in fit) if fit else 0.5
        out: dict[str, dict[str, float]] = {"diff_rate": {}, "diff_mean_score": {},
                                            "diff_log_n": {}}
        for c in self.graph:
            on_c = [r for r in fit if r.competency_id == c]
            n = len(on_c)
            smoothed = n + k  # 0 without smoothing nor records: no estimate
            out["diff_rate"][c] = ((sum(r.proficient for r in on_c) + k * global_rate) / smoothed
                                   if smoothed else NAN)
            out["diff_mean_score"][c] = ((sum(r.score for r in on_c) + k * global_score) / smoothed
                                         if smoothed else NAN)
            out["diff_log_n"][c] = math.log(1 + n)
        return out


def streak(outcomes: list[bool]) -> float:
    """+k if the last k outcomes are proficient (and the one before is not), -k if not proficient."""
    if not outcomes:
        return NAN
    k = 0
    for o in reversed(outcomes):
        if o != outcomes[-1]:
            break
        k += 1
    return float(k if outcomes[-1] else -k)
