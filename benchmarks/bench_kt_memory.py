"""Benchmark: peak memory of the knowledge-tracing benchmark, one feature call vs learner chunks.

Run with ``python benchmarks/bench_kt_memory.py [scale]`` (default 1.0; 0.25 for a quick look).
Two generated datasets in the DKVMN sequences format (the format of ``../shared/data/kt``):

- *many skills*: 1,223 skills (Statics2011's count) practised along a curriculum, so learners
  mostly move from a skill to the next and the skill graph learned from the transitions
  (:func:`pipelines.kt.graph_learning.learn_skill_graph`) has long prerequisite chains; few
  learners with long sequences (Statics2011: 333 learners, about 570 answers each);
- *few skills*: 100 skills (ASSIST2015's count), many learners with short sequences.

For each, ``pdrec benchmark-kt``'s run (:func:`pipelines.kt.runner.run_benchmark`, the
``lightgbm_graph`` model, the whole training file, no folds) runs in a child process twice: with
``feature_pairs=None`` (each frame in one builder call: the reference, as before) and with the
default budget (:data:`pipelines.kt.frames.DEFAULT_MAX_PAIRS`: frames built over chunks of
learners). It prints each run's peak RSS (the child's ``ru_maxrss``), the (record, neighbour)
pairs of the biggest frame, the test AUC (the two runs must agree exactly: the frames are the
same) and the ratio one call / chunks.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATASETS = {  # name: (learners in the train file, answers per learner, skills, P(next skill))
    "many skills": (120, 570, 1223, 0.6),
    "few skills": (2400, 36, 100, 0.3),
}


def write_sequences(folder: Path, name: str, learners: int, answers: int, skills: int,
                    p_next: float, *, seed: int = 0) -> None:
    """``NAME_train.csv`` and ``NAME_test.csv`` (a third as many learners), three lines per
    learner: answer count, skill ids (1-based), correctness. Each answer repeats the skill
    (probability 0.3), moves to the next skill (``p_next``) or jumps to a random one; a learner
    answers correctly with probability logistic(ability - difficulty + 0.2 x answers so far on
    the run of that skill)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    difficulty = rng.normal(size=skills)
    for part, n in (("train", learners), ("test", max(2, learners // 3))):
        move = rng.choice(3, size=(n, answers), p=[0.3, p_next, 0.7 - p_next])  # stay/next/jump
        move[:, 0] = 2
        jump_to = rng.integers(0, skills, size=(n, answers))
        segment = np.cumsum(move == 2, axis=1)  # answers since the last jump share a segment
        steps = np.cumsum(move == 1, axis=1)
        flat = (np.arange(n)[:, None] * answers + segment).ravel()
        start_steps = np.zeros(n * (answers + 1), dtype=np.int64)
        start_jump = np.zeros(n * (answers + 1), dtype=np.int64)
        first = (move == 2).ravel()
        start_steps[flat[first]] = steps.ravel()[first]
        start_jump[flat[first]] = jump_to.ravel()[first]
        skill = (start_jump[flat] + steps.ravel() - start_steps[flat]).reshape(n, answers) % skills
        within = np.arange(answers)[None, :] - np.maximum.accumulate(
            np.where(move != 0, np.arange(answers)[None, :], 0), axis=1)
        logit = rng.normal(size=(n, 1)) - difficulty[skill] + 0.2 * within
        correct = (rng.random((n, answers)) < 1 / (1 + np.exp(-logit))).astype(int)
        rows = [f"{answers}\n{','.join(map(str, s + 1))}\n{','.join(map(str, c))}"
                for s, c in zip(skill, correct, strict=True)]  # one line triple per learner
        (folder / f"{name}_{part}.csv").write_text("\n".join(rows) + "\n")


def child(folder: str, pairs: str) -> None:
    """One benchmark run; prints peak RSS, test AUC, seconds and the largest frame's pairs."""
    from pipelines.kt import runner
    from pipelines.kt.config import BenchmarkConfig
    from pipelines.kt.frames import graph_pairs
    from pipelines.kt.runner import run_benchmark

    biggest = []
    build = runner.training_frame

    def counted(builder, evidence, graph, **kw):
        biggest.append(int(graph_pairs(graph, evidence["competency_id"]).sum()))
        return build(builder, evidence, graph, **kw)

    runner.training_frame = counted  # count each frame's pairs, then build it as the run does
    t0 = time.perf_counter()
    result = run_benchmark(BenchmarkConfig(data=Path(folder), models=("lightgbm_graph",),
                                           n_folds=1,
                                           feature_pairs=None if pairs == "none" else int(pairs)))
    auc = float(result.summary()["auc"].iloc[0])
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "auc": auc, "seconds": time.perf_counter() - t0,
                      "pairs": max(biggest, default=0), "edges": result.graphs[0]["edges"]}))


def _run(folder: Path, pairs: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(folder), pairs],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(scale: float) -> None:
    from pipelines.kt.frames import DEFAULT_MAX_PAIRS

    with tempfile.TemporaryDirectory(prefix="kt-memory-") as tmp:
        print(f"{'dataset':<12} {'run':<22} {'responses':>9} {'edges':>6} {'pairs':>12} "
              f"{'peak MB':>8} {'s':>6} {'test AUC':>10}")
        for name, (learners, answers, skills, p_next) in DATASETS.items():
            folder = Path(tmp) / name.replace(" ", "_")
            n = max(4, round(learners * scale))
            write_sequences(folder, "syn", n, answers, skills, p_next)
            responses = (n + max(2, n // 3)) * answers
            runs = {}
            for label, pairs in (("one call (reference)", "none"),
                                 (f"chunks of {DEFAULT_MAX_PAIRS:,}", str(DEFAULT_MAX_PAIRS))):
                r = runs[label] = _run(folder, pairs)
                print(f"{name:<12} {label:<22} {responses:>9,} {r['edges']:>6} "
                      f"{r['pairs']:>12,} {r['peak_mb']:>8.0f} {r['seconds']:>6.1f} "
                      f"{r['auc']:>10.6f}")
            ref, new = runs.values()
            print(f"{name:<12} peak one call / chunks: {ref['peak_mb'] / new['peak_mb']:.2f}; "
                  f"test AUC identical: {ref['auc'] == new['auc']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
