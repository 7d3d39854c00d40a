"""The evidence firewall's cost (docs/firewall.md): the per-row mask, and what it adds to the
store read of the mastery refresh.

Prints medians and ratios against reference runs in the same process:

- :func:`recommender.firewall.decision_mask` over ~1M evidence rows (one source blocked by the
  policy, a tenth of the educators with a withdrawn source) against a bare
  ``source.isin(blocked)`` (the policy alone) and one ``educator_id.isin`` (the floor of any rule
  per educator) on the same rows;
- the refresh's evidence read with the firewall (policy document + withdrawals, one query each,
  then the mask) against the bare ``Store.evidence_frame`` read, on a SQLite store, for one
  educator (a fresh single answer) and for 500 educators at once (a bulk refresh).

Run: ``python benchmarks/bench_firewall.py [--rows 1000000]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.evidence import validate_evidence
from recommender.evidence.contract import SOURCES
from recommender.firewall import build_policy, decision_mask
from recommender.graph import default_framework
from recommender.store import open_store


def _evidence(n_rows: int, n_educators: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "educator_id": pd.Series([f"E{i:06d}" for i in rng.integers(0, n_educators, n_rows)],
                                 dtype=object),
        "source": pd.Series(np.asarray(SOURCES, dtype=object)[rng.integers(0, len(SOURCES),
                                                                             n_rows)],
                            dtype=object),  # as Store.evidence_frame builds it
    })


def _withdrawn(n_educators: int) -> dict[str, frozenset[str]]:
    return {f"E{i:06d}": frozenset({SOURCES[i % len(SOURCES)]})
            for i in range(0, n_educators, 10)}


def bench_mask(n_rows: int) -> None:
    n_educators = max(n_rows // 40, 1)
    ev = _evidence(n_rows, n_educators)
    policy = build_policy({"sources": {"self_assessment": {"feeds_decisions": False}}}, 1)
    withdrawn = _withdrawn(n_educators)
    t_mask, kept = median_time(lambda: decision_mask(ev, policy, withdrawn), runs=5)
    t_bare, _ = median_time(lambda: ~ev["source"].isin(policy.blocked).to_numpy(bool), runs=5)
    t_floor, _ = median_time(lambda: ev["educator_id"].isin(list(withdrawn)).to_numpy(bool), 5)
    print(f"decision_mask over {n_rows:,} rows, {n_educators:,} educators, {len(withdrawn):,} "
          f"with a withdrawal: median {t_mask * 1e3:.1f} ms ({kept.mean():.1%} kept); bare "
          f"source.isin (the policy alone) {t_bare * 1e3:.1f} ms, ratio {t_mask / t_bare:.1f}; "
          f"one educator_id.isin (the floor of any per-educator rule) {t_floor * 1e3:.1f} ms, "
          f"ratio {t_mask / t_floor:.2f}")


def bench_store(n_educators: int, per_educator: int) -> None:
    graph = default_framework("educator")
    comps = np.asarray(list(graph), dtype=object)
    n = n_educators * per_educator
    rng = np.random.default_rng(1)
    raw = _evidence(n, n_educators, seed=1).assign(
        evidence_id=[f"r{i}" for i in range(n)],
        competency_id=comps[rng.integers(0, len(comps), n)],
        score=rng.integers(1, 5, n),
        observed_at=pd.Timestamp("2025-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 300, n), unit="D"))
    valid = validate_evidence(raw, competencies=list(graph)).valid
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'pdrec.db'}")
        try:
            store.ensure_tenant("acme")
            store.ingest_evidence("acme", valid)
            store.put_evidence_policy("acme", {"sources": {
                "self_assessment": {"feeds_decisions": False}}})
            ids = sorted(valid["educator_id"].unique())
            for e, sources in _withdrawn(n_educators).items():
                if e in set(ids):
                    store.set_consent("acme", e, sorted(sources))
            for label, group in (("one educator", ids[:1]), (f"{len(ids)} educators", ids)):
                runs = 25 if len(group) == 1 else 5
                t_bare, _ = median_time(lambda g=group: store.evidence_frame("acme", g), runs)
                t_fw, _ = median_time(lambda g=group: store.firewall("acme", g).used(
                    store.evidence_frame("acme", g)), runs)
                print(f"refresh read, {label} ({per_educator} records each): with the firewall "
                      f"median {t_fw * 1e3:.2f} ms, bare evidence_frame {t_bare * 1e3:.2f} ms, "
                      f"ratio {t_fw / t_bare:.2f}")
        finally:
            store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the mask")
    parser.add_argument("--educators", type=int, default=500, help="educators in the store")
    args = parser.parse_args()
    bench_mask(args.rows)
    bench_store(args.educators, per_educator=40)


if __name__ == "__main__":
    main()
