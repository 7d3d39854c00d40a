"""Benchmark: validate one million rows of evidence, about 1% of them bad.

Run with ``python benchmarks/bench_evidence.py [n_rows]``. It prints the median of 5 runs of
:func:`recommender.evidence.validate_evidence`, its throughput, and, as a reference measured in
the same process on the same frame, the median of a bare ``df.copy()`` + ``pd.to_datetime`` of
``observed_at`` (the one unavoidable parse), with the ratio of the two.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.evidence import SOURCES, validate_evidence

N_RUNS = 5
BAD_FRACTION = 0.01
COMPETENCIES = [f"C{i:02d}" for i in range(40)]
NOW = pd.Timestamp("2025-06-01", tz="UTC")


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` evidence rows as they arrive from a client (ids and timestamps as text)."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 3 * 365 * 86400, n) + int(pd.Timestamp("2022-01-01").timestamp())
    stamps = np.char.add(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "Z")
    frame = pd.DataFrame(
        {
            "evidence_id": pd.Series(np.arange(n)).astype("str").radd("ev-"),
            "educator_id": pd.Series(rng.integers(0, 50_000, n)).astype("str").radd("t-"),
            "competency_id": np.asarray(COMPETENCIES)[rng.integers(0, len(COMPETENCIES), n)],
            "source": np.asarray(SOURCES)[rng.integers(0, len(SOURCES), n)],
            "score": rng.integers(1, 5, n).astype(float),
            "scale_min": 1.0,
            "scale_max": 4.0,
            "observed_at": stamps,
            "rater_id": pd.Series(rng.integers(0, 500, n)).astype("str").radd("r-"),
            "activity_id": None,
        }
    )
    frame = frame.astype({"observed_at": "str", "competency_id": "str", "source": "str"})
    # corrupt ~1% of rows, spread over the kinds of error
    bad = rng.choice(n, int(n * BAD_FRACTION), replace=False)
    kinds = np.array_split(bad, 6)
    frame.loc[kinds[0], "competency_id"] = "NOPE"
    frame.loc[kinds[1], "source"] = "gossip"
    frame.loc[kinds[2], "score"] = 9.0
    frame.loc[kinds[3], "observed_at"] = "not a date"
    frame.loc[kinds[4], "educator_id"] = None
    frame.loc[kinds[5], "evidence_id"] = "ev-0"  # duplicates of row 0
    return frame



def main(n: int = 1_000_000) -> None:
    t0 = time.perf_counter()
    frame = make_frame(n)
    print(f"built {n:,} rows in {time.perf_counter() - t0:.1f} s")

    def validate():
        return validate_evidence(frame, competencies=COMPETENCIES, now=NOW)

    def baseline():
        out = frame.copy()
        out["observed_at"] = pd.to_datetime(
            out["observed_at"], errors="coerce", utc=True, format="ISO8601"
        )
        return out

    t_validate, result = median_time(validate, N_RUNS)
    t_base, _ = median_time(baseline, N_RUNS)
    n_bad = result.n_rejected
    print(f"validate_evidence: median of {N_RUNS} runs {t_validate:.3f} s "
          f"({n / t_validate:,.0f} rows/s); kept {len(result.valid):,}, rejected {n_bad:,}")
    print(f"baseline copy + to_datetime: median {t_base:.3f} s; "
          f"ratio validate/baseline = {t_validate / t_base:.1f}x")
    assert len(result.valid) + n_bad == n


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
