"""Simulator check of the team ranker: teams that must take ONE shared step per month.

Run from the repo root: ``.venv/bin/python experiments/team_sim.py --seeds 101 102 103``
(``--teams``, ``--size``, ``--steps``, ``--boot`` as below). Prints one table per seed and a
pooled summary; the report is ``experiments/reports/teams.md``.

Protocol (the simulator's learning model is untouched: no team bonus)
----------------------------------------------------------------------
``--teams`` teams of ``--size`` educators drawn with :func:`recommender.simulate.
initial_population` (consecutive educators form a team; each keeps their own goals). Every
month each team takes one shared activity, chosen on the evidence only (the smoothed evidence
share, :func:`recommender.sim_estimators.smoothed_mastery`, catalog prior gains: the
``engine-no-model`` inputs), among the team formats (:data:`recommender.teams.TEAM_FORMATS`) for
every shared policy:

``team``          :func:`recommender.teams.rank_team`, its first step (default objective,
                  ``finish``); ``team-goal`` and ``team-gain`` the same with objective
                  ``goal`` and ``gain``.
``most-common``   each member's individual top step (:func:`recommender.ranking.rank_batch`,
                  team formats), the most frequent one in the team (ties: smaller id).
``median-member`` the individual top step of a synthetic median member: each competency at the
                  team's median estimate, the team's most common goals.
``individual``    (reference for gain per hour, not shared) each member's own top step from the
                  whole catalog, as ``engine-no-model`` ranks it.

A member who already completed the team's step sits that month out (no hours). Every member
takes the step (``p_accept = 1``: the team committed). The run loop, world draws (common random
numbers: the same world for every policy) and metrics are :func:`recommender.evaluation.
run_policy` and :func:`~recommender.evaluation.compare_outcomes`; the bootstrap resamples whole
teams (a cluster bootstrap: members of one team share its steps), the same resamples for every
policy, so ``d_hours_to_goal`` against ``team`` is a paired interval.

Gain per hour kept: each policy's gain per hour over the ``individual`` steps', ``gph_kept``
(rise in true mastery over all competencies per hour spent) and ``goal_gph_kept`` (the rise on
each member's goal competencies only: what the hours bought toward the goals), with 95%
intervals over the same team resamples.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.evaluation import HOURS_PER_STEP, compare_outcomes, run_policy
from recommender.graph import default_framework
from recommender.policies import PolicySetup, SimState
from recommender.ranking import EducatorContext, RankingRequest, prepare, rank_batch
from recommender.sim_estimators import engine_estimate, smoothed_mastery
from recommender.simulate import catalog_arrays, initial_population
from recommender.teams import TEAM_FORMATS, TeamRequest, rank_team

SHARED = ("team", "team-goal", "team-gain", "most-common", "median-member")
_OBJECTIVE = {"team": "finish", "team-goal": "goal", "team-gain": "gain"}
"""The team ranker's policies: its default objective and the two others."""


class TeamPolicy:
    """One of the shared-step rules (module docstring), or ``individual``; a
    :class:`recommender.policies.Policy`."""

    def __init__(self, name: str, setup: PolicySetup, team_of: np.ndarray):
        pop = setup.population
        self.name, self.graph, self.catalog, self.team_of = name, setup.graph, setup.catalog, team_of
        self.index = prepare(setup.graph, setup.catalog)
        self.aids = setup.activities.activity_ids.astype(object)
        self.apos = pd.Index(self.aids)
        self.goals = [tuple(pop.competencies[j] for j in row if j >= 0) for row in pop.goals]
        formats = None if name == "individual" else TEAM_FORMATS
        self.single = RankingRequest(k=1, formats=formats)

    def _contexts(self, state: SimState, ids: np.ndarray) -> dict[str, EducatorContext]:
        return {e: EducatorContext(goals=self.goals[i],
                                   completed=self.aids[np.flatnonzero(state.completed[i])])
                for i, e in enumerate(ids)}

    def _tops(self, long: pd.DataFrame, contexts: dict) -> pd.Series:
        ranked = rank_batch(self.graph, self.catalog, long, contexts=contexts,
                            request=self.single, index=self.index)
        return ranked[ranked["rank"] == 1].set_index("educator_id")["activity_id"]

    def choose(self, state: SimState) -> np.ndarray:
        ids = np.asarray(state.population.educator_ids, dtype=object)
        long = smoothed_mastery(state.evidence)
        contexts = self._contexts(state, ids)
        out = np.full(len(ids), -1, dtype=np.int64)
        if self.name == "individual":
            top = self._tops(long, contexts)
            out[pd.Index(ids).get_indexer(top.index)] = self.apos.get_indexer(top.to_numpy())
            return out
        tops = self._tops(long, contexts) if self.name == "most-common" else None
        for t in np.unique(self.team_of):  # a loop over teams (a few dozen), not data rows
            rows = np.flatnonzero(self.team_of == t)
            aid = self._team_step(long, ids[rows], contexts, tops)
            if aid is not None:
                a = self.apos.get_loc(aid)
                out[rows[~state.completed[rows, a]]] = a
        return out

    def _team_step(self, long: pd.DataFrame, members: np.ndarray, contexts: dict,
                   tops: pd.Series | None) -> str | None:
        if self.name in _OBJECTIVE:
            request = TeamRequest(k=1, objective=_OBJECTIVE[self.name])
            steps = rank_team(self.graph, self.catalog, long, list(members), contexts=contexts,
                              request=request, index=self.index)
            return steps[0].activity_id if steps else None
        if self.name == "most-common":
            picks = tops.reindex(members).dropna()
            return None if picks.empty else str(picks.value_counts().sort_index()
                                                .sort_values(ascending=False, kind="stable")
                                                .index[0])
        return self._median_step(long, members, contexts)

    def _median_step(self, long: pd.DataFrame, members: np.ndarray, contexts: dict
                     ) -> str | None:
        mine = long[long["educator_id"].isin(members)]
        med = mine.groupby("competency_id")["p_mastery"].median().reset_index()
        med["educator_id"] = "median"
        goals = pd.Series([g for m in members for g in contexts[m].goals]).value_counts()
        top_goals = tuple(goals.index[goals == goals.max()]) if len(goals) else ()
        done = frozenset.intersection(*(contexts[m].completed for m in members))
        ctx = {"median": EducatorContext(goals=top_goals, completed=done)}
        top = self._tops(med[["educator_id", "competency_id", "p_mastery"]], ctx)
        return None if top.empty else str(top.iloc[0])


def run_seed(seed: int, n_teams: int, size: int, steps: int, n_boot: int) -> pd.DataFrame:
    """One seed: every policy on the same teams and world; the comparison table."""
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    pop = initial_population(graph, n_teams * size, random_state=seed)
    setup = PolicySetup(graph=graph, catalog=catalog, population=pop,
                        activities=catalog_arrays(catalog, pop.competencies), k=1,
                        estimate=engine_estimate(MasteryEstimator(graph, catalog)), gains=None,
                        seed=seed + 1)
    team_of = np.repeat(np.arange(n_teams), size)
    outcomes = {name: run_policy(TeamPolicy(name, setup, team_of), setup, steps=steps,
                                 p_accept=1.0, n_random_readings=3)
                for name in (*SHARED, "individual")}
    rng = np.random.default_rng(seed + 7919)
    teams = rng.integers(0, n_teams, (n_boot, n_teams))
    boot_idx = (teams[:, :, None] * size + np.arange(size)).reshape(n_boot, -1)
    table = compare_outcomes(outcomes, hours_budget=HOURS_PER_STEP * steps, boot_idx=boot_idx,
                             steps=steps, reference="team")
    for field, col in (("gained", "gph_kept"), ("goal_gained", "goal_gph_kept")):
        kept = {name: _kept(o, outcomes["individual"], field, boot_idx)
                for name, o in outcomes.items()}
        for i, part in enumerate(("", "_ci_low", "_ci_high")):
            table[col + part] = table["policy"].map({k: v[i] for k, v in kept.items()})
    table.insert(0, "seed", seed)
    return table


def _kept(policy, individual, field: str, boot_idx: np.ndarray) -> tuple[float, float, float]:
    """Gain per hour (``field``: ``gained`` over all competencies, ``goal_gained`` on the goals)
    of ``policy`` over that of ``individual``, with a 95% interval over the same resamples."""
    def ratio(idx):
        mine = getattr(policy, field)[idx].sum(axis=-1) / policy.hours[idx].sum(axis=-1)
        ref = getattr(individual, field)[idx].sum(axis=-1) / individual.hours[idx].sum(axis=-1)
        return mine / ref

    boot = ratio(boot_idx)
    return (float(ratio(np.arange(len(policy.hours)))), float(np.quantile(boot, 0.025)),
            float(np.quantile(boot, 0.975)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--teams", type=int, default=20)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    cols = ["seed", "policy", "hours_to_goal", "d_hours_to_goal", "d_hours_to_goal_ci_low",
            "d_hours_to_goal_ci_high", "share_mastered", "gph_kept", "goal_gph_kept",
            "goal_gph_kept_ci_low", "goal_gph_kept_ci_high"]
    tables = [run_seed(s, args.teams, args.size, args.steps, args.boot) for s in args.seeds]
    pd.set_option("display.width", 200)
    for t in tables:
        print(t[cols].round(3).to_string(index=False), flush=True)
    print(pd.concat(tables).groupby("policy")[cols[2:]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
