"""Benchmark: what exploration adds to one answer of the recommendations endpoint.

Run with ``python benchmarks/bench_exploration.py``. For ranked lists of ``k`` = 5, 20 and 50
items it prints the median (of 5 runs of 2,000 calls) per-answer time of
:func:`api.exploring.draw_shown` plus :func:`api.exploring.reorder_items` (what the API does per
request when ``PDREC_EXPLORE`` is ``softmax`` or ``epsilon``: a generator from the seed and the
request id, the draw, the reordered items) and of ``off`` (no draw), beside a reference measured
in the same process: ``orjson.dumps`` of the same ``k`` items, which every answer pays.
"""

from __future__ import annotations

import orjson
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from api.exploring import draw_shown, reorder_items
from recommender.exploration import ExplorationPolicy

CALLS = 2000
POLICIES = (ExplorationPolicy(), ExplorationPolicy("softmax", temperature=0.1),
            ExplorationPolicy("epsilon", epsilon=0.1))


def _items(k: int) -> tuple[list[tuple[int, str, float, bool]], list[dict]]:
    ranked = [(i + 1, f"ACT-{i:03d}", 1.0 - i / k, False) for i in range(k)]
    items = [{"rank": r, "activity_id": a, "title": f"Activity {a}", "format": "course",
              "hours": 6.0, "score": s, "reason": "", "pinned": False, "explanation": None}
             for r, a, s, _ in ranked]
    return ranked, items


def main() -> None:
    print(f"per answer, median of 5 runs of {CALLS} calls")
    for k in (5, 20, 50):
        ranked, items = _items(k)

        def dumps(items=items):
            for _ in range(CALLS):
                orjson.dumps(items)

        ref, _ = median_time(dumps, runs=5)
        row = [f"k={k:>2}: orjson.dumps {ref / CALLS * 1e6:6.1f} us"]
        for policy in POLICIES:

            def draw(policy=policy, ranked=ranked, items=items):
                for i in range(CALLS):
                    shown = draw_shown(policy, 0, f"request-{i}", "T1", ranked)
                    if policy.mode != "off":
                        reorder_items(items, shown)

            t, _ = median_time(draw, runs=5)
            row.append(f"{policy.name} {t / CALLS * 1e6:6.1f} us ({t / ref:4.1f}x)")
        print("; ".join(row))


if __name__ == "__main__":
    main()
