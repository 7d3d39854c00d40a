"""pyBKT, the reference BKT implementation, run in a Python of its own.

pyBKT 1.4.3 cannot share the project's environment (see :mod:`pipelines.kt.pybkt_runner`: it
needs ``numpy<1.25``, ``pandas<2.1`` and ``scikit-learn<1.6``; the project needs pandas 3), so it
is not an extra of the project: its requirements are the ``pybkt`` dependency group of
``pyproject.toml`` (:data:`PYBKT_REQUIREMENTS`), installed once into a separate virtual
environment. The benchmark never installs anything: :func:`check_pybkt_python` only checks that
the given Python imports pyBKT and otherwise says how to create it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.kt.config import SetupError

PYBKT_REQUIREMENTS = ("pyBKT==1.4.3", "numpy<1.25", "pandas<2.1", "scikit-learn<1.6")
"""What pyBKT's environment holds: pyBKT and the versions it was released against (the same
list as the ``pybkt`` dependency group of ``pyproject.toml``)."""


def pybkt_venv(data_dir: Path) -> Path:
    """Where pyBKT's environment is expected by default: ``DATA_DIR/kt_benchmark/pybkt-venv``."""
    return Path(data_dir) / "kt_benchmark" / "pybkt-venv"


def venv_python(venv: Path) -> Path:
    """The Python of a virtual environment."""
    return Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def pybkt_problem(python: Path) -> str | None:
    """Why ``python`` cannot run pyBKT (it does not exist, or cannot import pyBKT), or None if
    it can."""
    python = Path(python)
    if not python.exists():
        return f"{python} does not exist"
    probe = subprocess.run([str(python), "-c", "import pyBKT.models"], capture_output=True,
                           text=True)
    if not probe.returncode:
        return None
    last = probe.stderr.strip().splitlines()[-1:] or [f"exit {probe.returncode}"]
    return f"{python} cannot import pyBKT ({last[0]})"


def pybkt_setup(venv: Path) -> str:
    """The commands creating pyBKT's environment at ``venv`` (one per line, indented)."""
    pip = venv / ("Scripts/pip.exe" if os.name == "nt" else "bin/pip")
    return (f"    python3 -m venv {shlex.quote(str(venv))}\n"
            f"    {shlex.quote(str(pip))} install {' '.join(map(shlex.quote, PYBKT_REQUIREMENTS))}")


def check_pybkt_python(python: Path, *, venv: Path) -> Path:
    """Return ``python`` if it imports pyBKT; otherwise raise :class:`SetupError` saying how to
    create such an environment at ``venv`` (nothing is installed here)."""
    problem = pybkt_problem(python)
    if problem is None:
        return Path(python)
    raise SetupError(
        "the pybkt model needs pyBKT, which runs in a Python of its own (it cannot share the "
        f"project's numpy, pandas and scikit-learn), but {problem}. Create that environment "
        "once (the 'pybkt' dependency group of pyproject.toml):\n"
        f"{pybkt_setup(venv)}\n"
        "or pass --pybkt-python PATH (a Python that has pyBKT), or leave pybkt out of --models."
    )


class PyBKTJob:
    """pyBKT fitted on training responses once, predicting every response of each frame of
    ``tests`` (row order kept), in a subprocess that runs while the caller does other work."""

    def __init__(self, train: pd.DataFrame, tests: Sequence[pd.DataFrame], *, python: Path,
                 seed: int, num_fits: int):
        self.tests = list(tests)
        self._tmp = tempfile.TemporaryDirectory(prefix="pybkt-")
        self.folder = Path(self._tmp.name)
        named = [("train", train)] + [(f"test{i}", t) for i, t in enumerate(self.tests)]
        for name, frame in named:
            pd.DataFrame({
                "row": np.arange(len(frame)),
                "user_id": frame["learner"].to_numpy(),
                "skill_name": frame["skill"].to_numpy(),
                "correct": (frame["correct"].to_numpy() >= 0.5).astype(int),
                "order_id": _global_order(frame),
            }).to_csv(self.folder / f"{name}.csv", index=False)
        (self.folder / "options.json").write_text(
            json.dumps({"seed": seed, "num_fits": num_fits, "tests": len(self.tests)}))
        runner = Path(__file__).with_name("pybkt_runner.py")
        self._log = open(self.folder / "stderr.txt", "w")  # noqa: SIM115 (closed in result)
        self.process = subprocess.Popen([str(python), str(runner), str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=self._log)

    def result(self) -> tuple[list[np.ndarray], float, float, int]:
        """Wait; return ``(predictions per test frame, fit_s, predict_s, n_missing)``. A
        prediction pyBKT leaves undefined (NaN) is replaced by 0.5 and counted."""
        code = self.process.wait()
        self._log.close()
        try:
            if code:
                tail = (self.folder / "stderr.txt").read_text()[-3000:]
                raise RuntimeError(f"pyBKT failed (exit {code}):\n{tail}")
            out, missing = [], 0
            for i, test in enumerate(self.tests):
                pred = pd.read_csv(self.folder / f"predictions{i}.csv")
                p = np.full(len(test), np.nan)
                p[pred["row"].to_numpy()] = pred["p"].to_numpy(dtype=float)
                missing += int(np.isnan(p).sum())
                out.append(np.where(np.isnan(p), 0.5, p))
            timing = json.loads((self.folder / "timing.json").read_text())
        finally:
            self._tmp.cleanup()
        return out, timing["fit_seconds"], timing["predict_seconds"], missing


def _global_order(frame: pd.DataFrame) -> np.ndarray:
    """A global order id that sorts answers by learner, then position (what pyBKT sorts by)."""
    learner = pd.factorize(frame["learner"])[0].astype(np.int64)
    position = frame["position"].to_numpy(dtype=np.int64)
    return learner * (int(position.max(initial=0)) + 1) + position
