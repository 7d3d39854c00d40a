"""Plots the CLI writes: the policy comparison of the simulator."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_policies"]


def plot_policies(table: pd.DataFrame, path) -> Path:
    """Save a PNG with one bar chart per metric (95% bootstrap error bars), and one of the
    paired difference in hours to goal against the reference when the table has one; return
    the PNG's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    budget = float(table["hours_budget"].iloc[0])
    titles = {"hours_to_goal": f"hours to goal (restricted mean; not reached = {budget:g} h)",
              "share_mastered": "share with goals mastered within budget",
              "gain_per_hour": "mastery gained per hour"}
    reference = table["reference"].iloc[0] if "reference" in table else None
    if isinstance(reference, str):
        titles["d_hours_to_goal"] = f"hours to goal minus {reference}'s (paired)"
    fig, axes = plt.subplots(1, len(titles), figsize=(5 * len(titles), 4.2))
    x = np.arange(len(table))
    for ax, m in zip(axes, titles, strict=True):
        v = table[m].to_numpy(float)
        err = np.vstack([v - table[f"{m}_ci_low"].to_numpy(float),
                         table[f"{m}_ci_high"].to_numpy(float) - v])
        ax.bar(x, v, yerr=np.nan_to_num(np.maximum(err, 0)), capsize=4, color="#4C72B0")
        ax.set_xticks(x, table["policy"], rotation=30, ha="right")
        ax.set_title(titles[m], fontsize=10)
    fig.suptitle(f"Policies on {int(table['n_educators'].iloc[0])} simulated educators, "
                 f"{int(table['steps'].iloc[0])} monthly steps (95% bootstrap CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
