"""Benchmark: rank shared steps for a 30-member team over the default catalog with
:func:`recommender.teams.rank_team`.

Run with ``python benchmarks/bench_teams.py [n_members]``. Every member has a random mastery for
every competency of the default educator framework and one goal; the request is the default
:class:`~recommender.teams.TeamRequest` (k=3, objective ``finish``) with a 40-hour budget; the
ranking index is built once (as a server does). It prints the median of 7 runs, and, as
references measured in the same process, the median of ``n_members`` single
:func:`recommender.ranking.rank_activities` calls (one per member, same index) and of the same
team ranking with objective ``goal`` (the previous default), with the ratios.
"""

from __future__ import annotations

import sys

from bench_ranking import make_inputs  # benchmarks/ (scripts run from this folder)
from timing import median_time

from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.ranking import RankingRequest, prepare, rank_activities
from recommender.teams import TeamRequest, rank_team

N_RUNS = 7


def main(n: int = 30) -> None:
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    index = prepare(graph, catalog)
    long, contexts = make_inputs(n, graph, catalog)
    members = sorted(contexts)
    request = TeamRequest(k=3, max_hours=40)
    rank_team(graph, catalog, long, members, contexts=contexts, request=request, index=index)
    t_team, steps = median_time(
        lambda: rank_team(graph, catalog, long, members, contexts=contexts, request=request,
                          index=index), N_RUNS)
    tables = {e: g.set_index("competency_id") for e, g in long.groupby("educator_id")}
    single = RankingRequest(k=3, max_hours=40)

    def singles() -> None:
        for e in members:
            rank_activities(graph, catalog, tables[e], context=contexts[e], request=single,
                            index=index)

    t_single, _ = median_time(singles, N_RUNS)
    by_goal = TeamRequest(k=3, max_hours=40, objective="goal")
    t_goal, _ = median_time(
        lambda: rank_team(graph, catalog, long, members, contexts=contexts, request=by_goal,
                          index=index), N_RUNS)
    print(f"rank_team: {n} members x {len(catalog)} activities x {len(graph)} competencies, "
          f"k={request.k}, max_hours={request.max_hours}, objective={request.objective}; "
          f"{len(steps)} steps")
    print(f"  median of {N_RUNS}: {t_team * 1e3:.1f} ms")
    print(f"reference: {n} single rank_activities calls, median of {N_RUNS}: "
          f"{t_single * 1e3:.1f} ms")
    print(f"ratio rank_team / {n} singles: {t_team / t_single:.2f}")
    print(f"reference: objective=goal, median of {N_RUNS}: {t_goal * 1e3:.1f} ms; ratio "
          f"finish / goal: {t_team / t_goal:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
