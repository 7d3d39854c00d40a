"""Reading and writing :class:`~recommender.simulate.generator.SyntheticData` as parquet files.

The evidence, educators and completions sit in one folder; the truth (``latent``) in its
``truth/`` subfolder, so that what a model may read and what it is scored against stay apart on
disk too.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd

from recommender.simulate.generator import SyntheticData

__all__ = ["read_synthetic", "write_synthetic"]

_FRAMES = ("educators", "evidence", "completions", "latent")


def _paths(out_dir) -> dict[str, Path]:
    out = Path(out_dir)
    paths = {name: out / f"{name}.parquet" for name in _FRAMES if name != "latent"}
    paths["latent"] = out / "truth" / "latent.parquet"
    return paths


def write_synthetic(data: SyntheticData, out_dir) -> dict[str, Path]:
    """Write ``data`` as parquet: educators, evidence and completions in ``out_dir``, the truth
    (latent) in ``out_dir/truth/``. Returns the path of each frame by name."""
    paths = _paths(out_dir)
    paths["latent"].parent.mkdir(parents=True, exist_ok=True)
    for f in fields(data):
        getattr(data, f.name).to_parquet(paths[f.name], index=False)
    return paths


def read_synthetic(out_dir) -> SyntheticData:
    """Read what :func:`write_synthetic` wrote in ``out_dir``."""
    paths = _paths(out_dir)
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"not a synthetic data folder, missing: {missing}")
    return SyntheticData(**{name: pd.read_parquet(p) for name, p in paths.items()})
