"""Connections spread over the API's workers: one shared listening socket vs one per worker.

What it does, on 127.0.0.1: starts ``pdrec serve --workers 2`` twice, side by side, each on a
temporary data directory with no model (``PDREC_LOAD_MODEL=false``; ``/healthz`` needs none):
once with ``--shared-socket`` (every worker accepts from the one socket the supervisor bound)
and once with the default, one ``SO_REUSEPORT`` socket per worker. Then, alternating between
the two in each round so both see the same machine, it loads ``GET /healthz`` with wrk (32
connections, opened at once) and, halfway through each load, counts each worker's accepted
connections. It prints per round and then the medians over the rounds: requests per second,
p99 latency, the connections per worker, the busiest worker's share of them (0.5 is an even
spread, 1.0 all on one worker), and the ratios per-worker / shared.

With one shared socket, the worker that wakes first accepts up to ``backlog`` pending
connections at once, so a burst such as wrk's mostly lands on one worker and the other core
idles; with one socket per worker the kernel spreads new connections by a hash of their
addresses.

Run: ``.venv/bin/python benchmarks/bench_workers.py [--seconds 10] [--rounds 3]``. Needs wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import connections_by_pid, require_wrk, served_api, wrk_load  # noqa: E402

MODES = {"shared socket": ["--shared-socket"], "socket per worker": ["--reuse-port"]}
"""The two ways ``pdrec serve --workers N`` listens, and the options that select them."""


def load_and_count(base: str, *, seconds: int, connections: int) -> dict:
    """wrk on ``/healthz`` for ``seconds``; the accepted connections per worker counted halfway
    (wrk keeps its connections open for the whole run)."""
    port = int(base.rsplit(":", 1)[1])
    counts: dict[int, int] = {}
    sampler = threading.Timer(seconds / 2, lambda: counts.update(connections_by_pid(port)))
    sampler.start()
    try:
        figures = wrk_load(base, ["/healthz"], seconds=seconds, connections=connections)
    finally:
        sampler.cancel()
        sampler.join()
    if figures["socket_errors"] or figures["non_2xx"]:
        raise RuntimeError(f"{base}/healthz failed under load: {figures}")
    per_worker = sorted(counts.values(), reverse=True)
    busiest = per_worker[0] / sum(per_worker) if per_worker else float("nan")
    return {**figures, "per_worker": per_worker, "busiest_share": busiest}


def spread(per_worker: list[int], workers: int) -> str:
    """Connections per worker, busiest first, with a 0 for each worker that got none."""
    return "/".join(str(n) for n in per_worker + [0] * (workers - len(per_worker)))


def run(seconds: int, rounds: int, connections: int, workers: int) -> dict[str, list[dict]]:
    """Both servers up at once; each round loads one, then the other (order swapped each round)."""
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    env = {"PDREC_LOAD_MODEL": "false"}
    with contextlib.ExitStack() as stack:
        bases = {}
        for mode, args in MODES.items():
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            bases[mode] = stack.enter_context(
                served_api(data_dir, workers=workers, env=env, args=args))
        for base in bases.values():  # warm-up: first requests, imports on first use
            wrk_load(base, ["/healthz"], seconds=2, connections=connections)
        for r in range(rounds):
            order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
            for mode in order:
                got = load_and_count(bases[mode], seconds=seconds, connections=connections)
                results[mode].append(got)
                print(f"round {r + 1} {mode:>17}: {got['rps']:7.0f} req/s  p50 "
                      f"{got['p50_ms']:6.1f} ms  p99 {got['p99_ms']:6.1f} ms  connections per "
                      f"worker {spread(got['per_worker'], workers)}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk run length (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (2)")
    args = parser.parse_args()
    require_wrk()
    print(f"GET /healthz, {args.workers} workers, wrk {args.connections} connections, "
          f"{args.seconds} s x {args.rounds} rounds per mode, alternating", flush=True)
    results = run(args.seconds, args.rounds, args.connections, args.workers)
    med = {mode: {key: statistics.median(r[key] for r in rows)
                  for key in ("rps", "p50_ms", "p99_ms", "busiest_share")}
           for mode, rows in results.items()}
    print(f"\nmedians over {args.rounds} rounds:")
    for mode, m in med.items():
        spreads = ", ".join(spread(r["per_worker"], args.workers) for r in results[mode])
        print(f"  {mode:>17}: {m['rps']:7.0f} req/s  p50 {m['p50_ms']:6.1f} ms  p99 "
              f"{m['p99_ms']:6.1f} ms  busiest worker's share {m['busiest_share']:.2f} "
              f"(connections per worker: {spreads})")
    shared, own = med["shared socket"], med["socket per worker"]
    print(f"socket per worker / shared socket: throughput {own['rps'] / shared['rps']:.2f}x, "
          f"p99 {own['p99_ms'] / shared['p99_ms']:.2f}x, busiest worker's share "
          f"{own['busiest_share']:.2f} vs {shared['busiest_share']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
