"""Fit and apply pyBKT in its own environment; run as a script by :mod:`pipelines.kt.pybkt_job`.

pyBKT 1.4.3 (the reference BKT implementation) does not run in the project's environment: its
metrics module calls scikit-learn's ``log_loss`` on plain lists at import, which scikit-learn >= 1.8
rejects, and its pure-Python EM (the C++ extension needs Boost and is not built) assigns arrays
into array elements, which NumPy 2 rejects. The benchmark therefore runs this file in a separate
virtual environment with the versions pyBKT was released against (the ``pybkt`` dependency
group of ``pyproject.toml``, created once by hand). It imports nothing from the
project.

Usage: ``python pybkt_runner.py WORKDIR`` where WORKDIR holds ``train.csv`` and ``test0.csv``,
``test1.csv``, ... (columns ``row, user_id, skill_name, correct, order_id``) and ``options.json``
(``seed``, ``num_fits``, ``tests``); it fits once on ``train.csv`` and writes ``predictions<i>.csv``
(``row, p``) for each test file, and ``timing.json``.
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd


def main(workdir: str) -> None:
    from pyBKT.models import Model

    folder = Path(workdir)
    options = json.loads((folder / "options.json").read_text())
    dtypes = {"user_id": str, "skill_name": str}
    train = pd.read_csv(folder / "train.csv", dtype=dtypes)
    model = Model(seed=int(options["seed"]), num_fits=int(options["num_fits"]), parallel=False)
    start = time.perf_counter()
    model.fit(data=train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(int(options["tests"])):
        test = pd.read_csv(folder / f"test{i}.csv", dtype=dtypes)
        out = model.predict(data=test)
        out[["row", "correct_predictions"]].rename(columns={"correct_predictions": "p"}).to_csv(
            folder / f"predictions{i}.csv", index=False
        )
    predict_seconds = time.perf_counter() - start
    (folder / "timing.json").write_text(
        json.dumps({"fit_seconds": fit_seconds, "predict_seconds": predict_seconds})
    )


if __name__ == "__main__":
    main(sys.argv[1])
