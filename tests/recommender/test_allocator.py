"""recommender.allocator: a batch process keeps freed memory, so the next batch does not fault
it back in. Run in child processes: the setting is process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_BATCHES = """
import json, resource, sys
import numpy as np
from recommender.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
def batch():  # 60 feature-column-sized arrays alive at once (about 200 MB), then all freed
    cols = [np.ones(420_000) for _ in range(60)]
    return sum(float(c[-1]) for c in cols)
batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
batch()
print(json.dumps({"kept": kept,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _second_batch(mode: str) -> dict:
    # glibc's own defaults in the child: no MALLOC_* variable inherited (a Dask nanny started
    # earlier in this process leaves its pre-spawn environment in os.environ)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _BATCHES, mode], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_kept_batch_reuses_its_memory_instead_of_faulting_it_back_in():
    default, kept = _second_batch("default"), _second_batch("keep")
    assert kept["kept"] is True
    pages = 60 * 420_000 * 8 // 4096
    assert default["faults"] > pages // 2  # glibc gave the freed heap back: faulted in again
    assert kept["faults"] < pages // 20

