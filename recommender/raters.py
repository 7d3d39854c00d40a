"""Rater severity: how lenient or harsh each observer is, learned from the evidence itself.

Observers differ (rater drift is a known pain in Danielson- and CLASS-style scoring). A rater's
severity is estimated as a **random effect** in a crossed model of every evidence record,

    proficient_i = mu + source[s_i] + competency[c_i] + educator[e_i] + rater[r_i] + noise_i,

where educator and rater effects are shrunk toward zero by ridge penalties equal to the ratio
of the noise variance to their own variance (the BLUP of a linear mixed model), and those
variances are re-estimated from the fitted effects a few times (a method-of-moments step).
Records of other sources (micro-credentials, student growth, self-assessments, ...) rate the same
educators, which is what separates "this observer's educators are weak" from "this observer is
harsh"; an observer with few ratings is pulled toward zero.

The effect is on the probability scale; :func:`fit_rater_severity` reports it in logits of the
latent skill (the units of :mod:`recommender.estimate`), converting with the slope of
``P(proficient) = Phi((theta + b) / sqrt(tau^2 + sd^2))`` at the observed proficiency rate.
Positive severity means the rater is **harsh** (their records read the skill lower than other
evidence about the same educators does); negative means lenient.

Examples
--------
>>> table = fit_rater_severity(evidence)                # doctest: +SKIP
>>> table.sort_values("severity").head()               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr
from scipy.stats import norm

from recommender.errors import InvalidEvidenceError

__all__ = ["SEVERITY_COLUMNS", "fit_rater_severity"]

SEVERITY_COLUMNS = ("rater_id", "n_ratings", "severity", "severity_low", "severity_high")
"""Columns of the severity table: logits, with a 90% interval."""

_Z90 = 1.6448536269514722
_FIXED_PENALTY = 1e-4


def _one_hot(codes: np.ndarray, n_levels: int, scale: float, rows: np.ndarray | None = None,
             n_rows: int | None = None) -> sp.csr_matrix:
    rows = np.arange(len(codes)) if rows is None else rows
    n_rows = len(codes) if n_rows is None else n_rows
    return sp.csr_matrix((np.full(len(codes), scale), (rows, codes)), shape=(n_rows, n_levels))


def fit_rater_severity(
    evidence: pd.DataFrame,
    *,
    sources: Sequence[str] = ("observation",),
    latent_sd: float = 1.5,
    source_sd: float = 1.0,
    rounds: int = 3,
) -> pd.DataFrame:
    """Severity of every rater of ``sources`` in ``evidence`` (module docstring).

    Parameters
    ----------
    evidence : DataFrame
        Validated evidence with ``educator_id, competency_id, source, proficient`` and
        ``rater_id`` (missing for records without a named rater).
    sources : sequence of str, default=("observation",)
        Whose raters get a severity (self-assessments and peer reviews have their own biases,
        handled as source effects).
    latent_sd, source_sd : float, default=1.5, 1.0
        Spread of skills and noise of one record in logits, for the conversion to logits.
    rounds : int, default=3
        Variance re-estimation steps.

    Returns
    -------
    DataFrame
        :data:`SEVERITY_COLUMNS`, one row per rater, sorted by ``rater_id``. Empty when no
        record of ``sources`` names a rater.
    """
    missing = [c for c in ("educator_id", "competency_id", "source", "proficient")
               if c not in evidence.columns]
    if missing:
        raise InvalidEvidenceError(f"evidence lacks columns {missing} needed for rater severity")
    empty = pd.DataFrame({c: pd.Series([], dtype=object if c == "rater_id" else float)
                          for c in SEVERITY_COLUMNS})
    if "rater_id" not in evidence.columns or not len(evidence):
        return empty
    y = evidence["proficient"].to_numpy(float)
    rated = (evidence["source"].isin(list(sources)) & evidence["rater_id"].notna()).to_numpy()
    if not rated.any():
        return empty
    src, _ = pd.factorize(evidence["source"])
    comp, _ = pd.factorize(evidence["competency_id"])
    edu, edu_levels = pd.factorize(evidence["educator_id"])
    rater, raters = pd.factorize(evidence["rater_id"].where(rated))
    n = len(y)
    rows_r = np.flatnonzero(rated)
    n_r = np.bincount(rater[rows_r], minlength=len(raters)).astype(float)
    n_e = np.bincount(edu, minlength=len(edu_levels)).astype(float)
    fixed = sp.hstack([_one_hot(src, src.max() + 1, 1.0), _one_hot(comp, comp.max() + 1, 1.0)])
    yc = y - y.mean()
    lam_e, lam_r = 4.0, 20.0
    for _ in range(max(1, int(rounds))):
        X = sp.hstack([
            fixed / np.sqrt(_FIXED_PENALTY),
            _one_hot(edu, len(edu_levels), 1.0 / np.sqrt(lam_e)),
            _one_hot(rater[rows_r], len(raters), 1.0 / np.sqrt(lam_r), rows_r, n),
        ]).tocsr()
        gamma = lsqr(X, yc, damp=1.0, atol=1e-8, btol=1e-8, iter_lim=2000)[0]
        k_f = fixed.shape[1]
        b_e = gamma[k_f:k_f + len(edu_levels)] / np.sqrt(lam_e)
        b_r = gamma[k_f + len(edu_levels):] / np.sqrt(lam_r)
        sigma2 = float(np.mean((yc - X @ gamma) ** 2))
        var_e = float(np.sum(b_e ** 2) / max(np.sum(n_e / (n_e + lam_e)), 1e-9))
        var_r = float(np.sum(b_r ** 2) / max(np.sum(n_r / (n_r + lam_r)), 1e-9))
        lam_e = sigma2 / max(var_e, 1e-6)
        lam_r = sigma2 / max(var_r, 1e-6)
    rate = float(np.clip(y[rated].mean(), 0.02, 0.98))
    total = np.sqrt(latent_sd ** 2 + source_sd ** 2)
    to_logits = total / norm.pdf(norm.ppf(rate))
    se = np.sqrt(sigma2 / (n_r + lam_r))
    sev = -b_r * to_logits
    out = pd.DataFrame({
        "rater_id": np.asarray(raters, dtype=object),
        "n_ratings": n_r.astype(np.int64),
        "severity": sev,
        "severity_low": sev - _Z90 * se * to_logits,
        "severity_high": sev + _Z90 * se * to_logits,
    })
    return out.sort_values("rater_id", ignore_index=True)
