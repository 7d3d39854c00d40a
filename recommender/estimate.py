"""The one mastery estimator: a model prior, updated the way learning and evidence move mastery.

The API, batch scoring and the simulator all call :class:`MasteryEstimator`. For every
(educator, competency) it keeps a Gaussian belief about the latent skill ``theta`` (logits;
mastery level ``sigmoid(theta)``, mastered when ``theta >= 0``) and moves it through the
educator's events in time order:

Prior
    With a trained mastery model (:class:`~recommender.models.predictor.MasteryPredictor`), the
    model's P(an observer rates it proficient) **as of the educator's first completed activity**
    (or as of now when they have completed none): evidence, graph, domain and profile features
    before any learning the engine could have caused. The model's probability is turned into a
    belief ``N(m0, model_prior_sd^2)`` consistent with the observation model below
    (``m0 = Phi^-1(p) * sqrt(model_prior_sd^2 + sd_obs^2) - bias_obs``), plus the mean rater
    severity of the records the model read (the model speaks in the voice of the educator's own
    observers; a harsh one would otherwise lower every prior). Without a model the prior is
    flat, ``N(prior_mean, prior_sd^2)``, and every record is filtered.

    Why the prior stops at the first completion: models fitted on logged professional-learning
    data learn that "completed an activity on c" marks weakness at c (educators and coaches pick
    activities on what is weak), so after the engine teaches c they under-estimate exactly what
    was just taught. Before the first completion there is no such confounding; after it, the
    change is modelled explicitly.

Learning
    A completed activity ``a`` raises the belief on each target ``c`` by
    ``logits_per_gain * g[a, c] * gate[c]`` (``g`` the expected gain: the learned gain posterior
    when there is one, else the catalog prior) and widens it by ``(gain_cv * jump)^2``;
    ``gate[c] = gate_floor + (1 - gate_floor) * mean sigmoid(gate_slope * m0[q])`` over the direct
    prerequisites ``q`` of ``c`` (1 without prerequisites; ``m0`` the prior belief): learning
    without the prerequisites mostly does not stick.

Evidence
    A record of source ``s`` (rated by rater ``r``) is proficient when
    ``theta + bias[s] - severity[r] + sd[s] * eps >= 0``; the belief takes the exact
    moment-matched (probit) update, and ``severity`` comes from :mod:`recommender.raters`, so a
    lenient or a harsh observer does not move mastery.

Time
    Between events the variance grows by ``drift_sd_per_month^2`` per 30 days (skills move on
    the job).

The answer
    ``p_mastery = sigmoid(m)``, the mastery level the belief expects, and ``p_bound =
    sigmoid(m - pessimism * s)``, a lower credible bound on it that the ranker decides
    "mastered" on (:func:`recommender.ranking.mastery.decision_mastery`): the engine stops
    working on a competency only when it is fairly sure, because stopping work on a goal too
    early costs an educator far more than one step too many, while how far a goal still is
    reads the level (a bound there makes every goal look farther than it is, and the ranker
    then picks longer activities than it needs). ``p_low``/``p_high`` are the 90% interval of
    the level, ``mean_logit``/``sd_logit`` the belief itself.

Everything is vectorized over (educator, competency) pairs; the one Python loop runs over the
rank of an event within its pair (the longest history), not over educators or records.

Examples
--------
>>> from recommender.graph import default_framework
>>> from recommender.catalog import default_catalog
>>> graph = default_framework()
>>> est = MasteryEstimator(graph, default_catalog(graph))
>>> out = est.estimate(pd.DataFrame(columns=["evidence_id", "educator_id", "competency_id",
...     "source", "proficient", "observed_at"]), ["E1"], as_of="2026-01-01T00:00:00Z")
>>> round(float(out["p_mastery"].iloc[0]), 3) == round(float(out["p_mastery"].iloc[1]), 3)
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace

import networkx as nx
import numpy as np
import pandas as pd
from scipy.special import expit, log_ndtr, ndtri

from recommender.catalog import Catalog
from recommender.errors import InvalidEvidenceError
from recommender.features.context import object_index
from recommender.ranking import target_gains
from recommender.ranking.checks import bad_field, check_finite_fields, is_number

__all__ = [
    "DEFAULT_ESTIMATOR_PARAMS",
    "ESTIMATE_COLUMNS",
    "EstimatorParams",
    "MasteryEstimator",
]

ESTIMATE_COLUMNS = ("educator_id", "competency_id", "p_mastery", "n_evidence", "p_bound",
                    "p_low", "p_high", "mean_logit", "sd_logit")
"""Columns of :meth:`MasteryEstimator.estimate` (the first five are the long mastery frame
the ranker, the store and the API read)."""

_NS_PER_MONTH = 30 * 86_400 * 10**9
_Z90 = 1.6448536269514722
_NEVER = np.iinfo(np.int64).max
_PROFILE_COLUMNS = ("years_experience", "role", "subject", "grade_band")
PRIOR_CACHE_SIZE = 200_000
"""Model priors an estimator keeps (one row of P per educator, about 0.4 kB each)."""


def _default_source_bias() -> dict[str, float]:
    return {"observation": 0.0, "micro_credential": 0.0, "student_growth": 0.0,
            "self_assessment": 0.8, "activity_assessment": 0.2, "peer_review": 0.4}


def _default_source_sd() -> dict[str, float]:
    return {"observation": 1.0, "micro_credential": 0.5, "student_growth": 1.5,
            "self_assessment": 1.0, "activity_assessment": 0.8, "peer_review": 1.0}


@dataclass(frozen=True)
class EstimatorParams:
    """Every constant of the estimator (module docstring), with where its value comes from.

    Parameters
    ----------
    source_bias : dict, logits
        How lenient each source is relative to an observation (0). Defaults: self-assessments
        inflate (+0.8), peer reviews (+0.4) and activity assessments (+0.2) mildly, from the
        evaluation literature's direction (self-ratings run high). Set by hand, not fitted:
        fitting them on a tenant's training evidence (as rater severity is,
        :func:`recommender.raters.fit_rater_severity`) is still to do.
    source_sd : dict, logits
        Noise of one record of each source: micro-credentials precise (0.5), student growth
        noisy (1.5), the rest about 1; set by hand likewise.
    prior_mean, prior_sd : float, default=0.0, 1.5
        The flat prior without a model: centred on the mastery threshold, wide.
    model_prior_sd : float, default=0.6
        Spread of the skill around the model's estimate (the model is informative, not exact).
    drift_sd_per_month : float, default=0.1
        Growth of uncertainty with time since the last event.
    logits_per_gain : float, default=4.0
        Logits per unit of expected gain in P(mastery) (the logit's slope at P = 0.5).
    gain_cv : float, default=0.5
        Spread of one completion's effect relative to its expected size (learners differ).
    gate_floor, gate_slope : float, default=0.25, 2.0
        How much of a gain sticks without mastered prerequisites, and how sharply readiness
        rises with their mastery (the ranker's own values).
    pessimism : float, default=2.0
        Standard deviations below the mean at which ``p_bound`` is read (module docstring).
        Chosen on development seeds 100 and 101 of the simulator (see
        ``experiments/reports/ranker_params.md``), never on the seeds claims are made on.
    """

    source_bias: dict[str, float] = field(default_factory=_default_source_bias)
    source_sd: dict[str, float] = field(default_factory=_default_source_sd)
    prior_mean: float = 0.0
    prior_sd: float = 1.5
    model_prior_sd: float = 0.6
    drift_sd_per_month: float = 0.1
    logits_per_gain: float = 4.0
    gain_cv: float = 0.5
    gate_floor: float = 0.25
    gate_slope: float = 2.0
    pessimism: float = 2.0

    def __post_init__(self) -> None:
        rules = {**dict.fromkeys(("prior_sd", "model_prior_sd", "logits_per_gain", "gate_slope"),
                                 (lambda v: v > 0, "a finite number > 0")),
                 **dict.fromkeys(("drift_sd_per_month", "gain_cv", "pessimism"),
                                 (lambda v: v >= 0, "a finite number >= 0")),
                 "gate_floor": (lambda v: 0 <= v <= 1, "a number in [0, 1]")}
        check_finite_fields("EstimatorParams", self, rules)
        for source, sd in self.source_sd.items():
            if not (is_number(sd) and np.isfinite(sd) and sd > 0):
                raise bad_field("EstimatorParams", f"source_sd[{source!r}]", sd,
                                "a finite number > 0")

    def to_dict(self) -> dict[str, float]:
        """Flat ``estimator.<name>`` keys (``estimator.source_bias.<source>``): MLflow params."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                out.update({f"estimator.{f.name}.{k}": float(v) for k, v in value.items()})
            else:
                out[f"estimator.{f.name}"] = float(value)
        return out

    @classmethod
    def from_dict(cls, flat: Mapping[str, float]) -> EstimatorParams:
        """Inverse of :meth:`to_dict` (unknown keys raise ValueError naming them)."""
        base = asdict(cls())
        for key, value in flat.items():
            parts = key.split(".")
            if parts[0] != "estimator" or parts[1] not in base:
                raise ValueError(f"unknown estimator parameter {key!r}; expected keys like "
                                 f"'estimator.pessimism' or 'estimator.source_sd.observation'")
            if len(parts) == 3:
                base[parts[1]] = {**base[parts[1]], parts[2]: float(value)}
            else:
                base[parts[1]] = float(value)
        return cls(**base)

    def with_sources(self, bias: Mapping[str, float], sd: Mapping[str, float]
                     ) -> EstimatorParams:
        """These parameters with fitted source models (missing sources keep theirs)."""
        return replace(self, source_bias={**self.source_bias, **bias},
                       source_sd={**self.source_sd, **sd})


DEFAULT_ESTIMATOR_PARAMS = EstimatorParams()


@dataclass(frozen=True, eq=False)
class _Events:
    """Readings and learning jumps of all pairs, sorted by (pair, time, jumps first)."""

    pair: np.ndarray  # e * C + c
    t: np.ndarray  # ns
    is_jump: np.ndarray
    shift: np.ndarray  # reading: source bias + rater severity; jump: expected jump (logits)
    sd: np.ndarray  # reading noise sd (1 for jumps)
    proficient: np.ndarray
    record: np.ndarray  # row of the evidence frame for readings, -1 for jumps


@dataclass(frozen=True, eq=False)
class FilterResult:
    """Beliefs after every event, and what each reading did."""

    mean: np.ndarray  # (E, C) logits
    var: np.ndarray  # (E, C)
    influence: np.ndarray  # (n_records,) |shift of the mean| caused by each reading; NaN if unused
    loglik: np.ndarray  # (n_records,) one-step-ahead log P(outcome); NaN if unused


def _ns(times) -> np.ndarray:
    return pd.to_datetime(pd.Series(times), utc=True).to_numpy("datetime64[ns]").astype(np.int64)


def _utc_ns(at) -> int:
    ts = pd.Timestamp(at)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def run_filter(prior_mean: np.ndarray, prior_var: np.ndarray, events: _Events, *,
               n_records: int, now_ns: np.ndarray, start_ns: np.ndarray,
               drift_sd_per_month: float, gain_cv: float) -> FilterResult:
    """Move every pair's belief through its events (module docstring); pure.

    ``prior_mean``/``prior_var`` are (E, C) beliefs as of ``start_ns`` (E,); ``now_ns`` (E,) is
    the time the answer is for. The loop runs over the rank of an event within its pair.
    """
    n_e, n_c = prior_mean.shape
    m = prior_mean.astype(float).ravel().copy()
    v = prior_var.astype(float).ravel().copy()
    last = np.repeat(np.asarray(start_ns, dtype=np.int64), n_c)  # < 0: no time yet
    influence = np.full(n_records, np.nan)
    loglik = np.full(n_records, np.nan)
    q = drift_sd_per_month ** 2 / _NS_PER_MONTH
    n = len(events.pair)
    if n:
        starts = np.r_[0, np.flatnonzero(np.diff(events.pair)) + 1]
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(rank.max() + 2))
        for k in range(len(bounds) - 1):
            idx = by_rank[bounds[k]:bounds[k + 1]]
            p, t = events.pair[idx], events.t[idx]
            v[p] += q * np.where(last[p] >= 0, np.maximum(t - last[p], 0), 0)
            last[p] = np.maximum(last[p], t)
            jump = events.is_jump[idx]
            pj, d = p[jump], events.shift[idx][jump]
            m[pj] += d
            v[pj] += (gain_cv * d) ** 2
            read = ~jump
            pr, b, s = p[read], events.shift[idx][read], events.sd[idx][read]
            sign = np.where(events.proficient[idx][read], 1.0, -1.0)
            scale = np.sqrt(v[pr] + s * s)
            z = sign * (m[pr] + b) / scale
            log_cdf = log_ndtr(z)
            lam = np.exp(-0.5 * z * z - log_cdf) / np.sqrt(2 * np.pi)  # phi(z) / Phi(z)
            step = sign * v[pr] / scale * lam
            m[pr] += step
            v[pr] = np.maximum(v[pr] * (1.0 - v[pr] / scale ** 2 * lam * (lam + z)), 1e-6)
            rec = events.record[idx][read]
            influence[rec] = np.abs(step)
            loglik[rec] = log_cdf
    now = np.repeat(np.asarray(now_ns, dtype=np.int64), n_c)
    v += q * np.where(last >= 0, np.maximum(now - last, 0), 0)
    return FilterResult(m.reshape(n_e, n_c), v.reshape(n_e, n_c), influence, loglik)


class MasteryEstimator:
    """P(mastery) of every competency from evidence, completions and (optionally) a model.

    Parameters
    ----------
    graph : networkx.DiGraph
        The framework (edge u -> v: u is a prerequisite of v).
    catalog : Catalog
        What each completed activity develops (its targets and expected gains).
    predictor : MasteryPredictor, optional
        The trained model that gives the prior; without one the prior is flat.
    gains : DataFrame, optional
        Learned gain posteriors (``gain_mean`` by activity and competency) for the jumps.
    severity : Mapping or Series, optional
        Rater severity in logits by ``rater_id`` (:func:`recommender.raters.fit_rater_severity`);
        positive means the rater scores harshly (their records are read as if higher).
    params : EstimatorParams, default :data:`DEFAULT_ESTIMATOR_PARAMS`
    """

    def __init__(self, graph: nx.DiGraph, catalog: Catalog, *, predictor=None,
                 gains: pd.DataFrame | None = None, severity=None,
                 params: EstimatorParams = DEFAULT_ESTIMATOR_PARAMS):
        self.graph, self.catalog, self.predictor, self.params = graph, catalog, predictor, params
        self.competencies = list(nx.lexicographical_topological_sort(graph))
        self._comp_index = pd.Index(self.competencies, dtype=object)
        pos = {c: j for j, c in enumerate(self.competencies)}
        n_c = len(self.competencies)
        self._prereq_mean = np.zeros((n_c, n_c))
        for c in self.competencies:
            preds = list(graph.predecessors(c))
            for q in preds:
                self._prereq_mean[pos[q], pos[c]] = 1.0 / len(preds)
        self._has_prereq = self._prereq_mean.sum(axis=0) > 0
        targets = target_gains(catalog, gains)
        self._targets = targets.assign(c=self._comp_index.get_indexer(targets["competency_id"]))
        if (self._targets["c"] < 0).any():
            raise InvalidEvidenceError("catalog targets competencies not in the framework: "
                                       f"{sorted(set(targets['competency_id'][self._targets['c'] < 0]))}")
        # the targets by activity in CSR form: completions become learning jumps without a merge
        codes, activities = pd.factorize(self._targets["activity_id"].to_numpy(object))
        by_activity = np.argsort(codes, kind="stable")
        self._activities = pd.Index(activities, dtype=object)
        self._target_ptr = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(activities)))]
        self._target_c = self._targets["c"].to_numpy(np.int64)[by_activity]
        self._target_gain = self._targets["gain"].to_numpy(float)[by_activity]
        self.severity = (pd.Series(dtype=float) if severity is None
                         else pd.Series(severity, dtype=float))
        self._prior_cache: dict[tuple[str, int, int], np.ndarray] = {}

    @property
    def label(self) -> str:
        """What the answers rest on, for responses and audit logs."""
        return "model+filter" if self.predictor is not None else "evidence-filter"

    # -- the answer ---------------------------------------------------------------------------
    def estimate(self, evidence: pd.DataFrame, educator_ids: Iterable[str], *, as_of,
                 completions: pd.DataFrame | None = None,
                 educators: pd.DataFrame | None = None, severity=None) -> pd.DataFrame:
        """Beliefs of every competency for each educator as of ``as_of`` (:data:`ESTIMATE_COLUMNS`).

        ``evidence`` is validated evidence (``evidence_id, educator_id, competency_id, source,
        proficient, observed_at`` and optionally ``rater_id``); only records and completions
        strictly after ``as_of`` are ignored. Educators come back in the given order,
        competencies in lexicographic topological order. ``severity`` (rater severity by
        ``rater_id``, as the constructor takes it) replaces the estimator's own for this call:
        a deployment that learns its observers from its own evidence passes it here.
        """
        ids, result, counts = self._run(evidence, educator_ids, as_of=as_of,
                                        completions=completions, educators=educators,
                                        severity=severity)
        return self._frame(ids, result, counts)

    def influence(self, evidence: pd.DataFrame, educator_ids: Iterable[str], *, as_of,
                  completions: pd.DataFrame | None = None,
                  educators: pd.DataFrame | None = None) -> pd.Series:
        """How far each evidence record moved its belief (logits), by the frame's index.

        Records folded into the model prior (before the first completion) get NaN: they acted
        through the model, whose contributions explain them.
        """
        _, result, _ = self._run(evidence, educator_ids, as_of=as_of, completions=completions,
                                 educators=educators)
        return pd.Series(result.influence, index=evidence.index, name="influence")

    def log_likelihood(self, evidence: pd.DataFrame, educator_ids: Iterable[str], *, as_of,
                       completions: pd.DataFrame | None = None,
                       educators: pd.DataFrame | None = None) -> pd.Series:
        """One-step-ahead ``log P(outcome)`` of each record given everything before it.

        The held-out score of the estimator (and of a rater-severity table: compare it with and
        without ``severity``); NaN for records folded into the model prior.
        """
        _, result, _ = self._run(evidence, educator_ids, as_of=as_of, completions=completions,
                                 educators=educators)
        return pd.Series(result.loglik, index=evidence.index, name="log_likelihood")

    def _run(self, evidence, educator_ids, *, as_of, completions, educators, severity=None):
        ids = np.asarray(list(dict.fromkeys(educator_ids)), dtype=object)
        severity = self.severity if severity is None else pd.Series(severity, dtype=float)
        now = _utc_ns(as_of)
        ev = evidence.reset_index(drop=True)
        t_ev = _ns(ev["observed_at"]) if len(ev) else np.zeros(0, np.int64)
        comp = _completions(completions)
        t_comp = _ns(comp["completed_at"]) if len(comp) else np.zeros(0, np.int64)
        first = _first_completion(ids, comp["educator_id"].to_numpy(object), t_comp, now)
        if self.predictor is not None:
            start = clock = first
            prior_mean = self._model_prior(ev, comp, educators, ids, first, now)
            prior_mean += _prior_severity(ev, t_ev, ids, first, severity)[:, None]
            prior_var = np.full_like(prior_mean, self.params.model_prior_sd ** 2)
        else:
            start = np.full(len(ids), np.iinfo(np.int64).min // 2)
            clock = np.full(len(ids), -1)
            prior_mean = np.full((len(ids), len(self.competencies)), self.params.prior_mean)
            prior_var = np.full_like(prior_mean, self.params.prior_sd ** 2)
        events, counts = self._events(ev, t_ev, comp, t_comp, ids, start, now, prior_mean,
                                      severity)
        result = run_filter(prior_mean, prior_var, events, n_records=len(ev),
                            now_ns=np.full(len(ids), now), start_ns=clock,
                            drift_sd_per_month=self.params.drift_sd_per_month,
                            gain_cv=self.params.gain_cv)
        return ids, result, counts

    def _frame(self, ids, result: FilterResult, counts) -> pd.DataFrame:
        n_c = len(self.competencies)
        m, s = result.mean.ravel(), np.sqrt(result.var.ravel())
        return pd.DataFrame({
            "educator_id": np.repeat(ids, n_c),
            "competency_id": np.tile(np.asarray(self.competencies, dtype=object), len(ids)),
            "p_mastery": expit(m),
            "n_evidence": counts.ravel().astype(np.int64),
            "p_bound": expit(m - self.params.pessimism * s),
            "p_low": expit(m - _Z90 * s),
            "p_high": expit(m + _Z90 * s),
            "mean_logit": m,
            "sd_logit": s,
        })

    # -- pieces -------------------------------------------------------------------------------
    def _model_prior(self, ev, comp, educators, ids, first, now) -> np.ndarray:
        """(E, C) prior means from the model as of each educator's first completion.

        A prior as of a past first completion cannot change unless what it was computed from
        does, so it is cached under (educator, that time, a digest of the educator's evidence up
        to it and profile): a record dated before the first completion that arrives late, or a
        new profile, changes the digest and so the prior; another tenant's educator with the
        same id has other inputs and so another key.
        """
        p = np.empty((len(ids), len(self.competencies)))
        keys = list(zip(ids.tolist(), first.tolist(),
                        _prior_inputs_digest(ev, educators, ids, first).tolist(), strict=True))
        todo = []
        for i, key in enumerate(keys):
            hit = self._prior_cache.get(key) if key[1] < now else None
            if hit is None:
                todo.append(i)
            else:
                p[i] = hit
        todo = np.asarray(todo, dtype=np.int64)
        if len(todo):
            block = self._model_block(ev, comp, educators, ids[todo], first[todo])
            p[todo] = block
            past = first[todo] < now
            self._remember({keys[i]: b for i, b in zip(todo[past].tolist(), block[past],
                                                       strict=True)})
        prm = self.params
        p = np.clip(p, 1e-4, 1 - 1e-4)
        sd_obs, bias_obs = prm.source_sd["observation"], prm.source_bias["observation"]
        return ndtri(p) * np.sqrt(prm.model_prior_sd ** 2 + sd_obs ** 2) - bias_obs

    def _model_block(self, ev, comp, educators, ids: np.ndarray, times: np.ndarray
                     ) -> np.ndarray:
        """(len(ids), C) the model's P of every competency, each educator as of its time.

        One model call for the whole batch: the features of a row read only its educator's
        records before its time, so per-educator times give each educator the numbers a call
        at its time alone would (one time is passed as one time).
        """
        distinct = np.unique(times)
        as_of = (pd.Timestamp(int(distinct[0]), tz="UTC") if len(distinct) == 1
                 else pd.DatetimeIndex(times.astype("datetime64[ns]"), tz="UTC"))
        grid = self.predictor.mastery_grid(ev, educator_ids=ids, as_of=as_of, completions=comp,
                                           educators=educators)
        if grid.competencies == self.competencies:  # the same framework order: no re-indexing
            return grid.p_mastery
        col = self._comp_index.get_indexer(pd.Index(grid.competencies, dtype=object))
        block = np.full((len(ids), len(self.competencies)), 0.5)
        known = col >= 0
        block[:, col[known]] = grid.p_mastery[:, known]
        return block

    def _remember(self, entries: Mapping[tuple[str, int, int], np.ndarray]) -> None:
        """Cache priors, dropping the oldest beyond :data:`PRIOR_CACHE_SIZE` entries."""
        self._prior_cache.update(entries)
        excess = len(self._prior_cache) - PRIOR_CACHE_SIZE
        for key in list(itertools.islice(self._prior_cache, max(excess, 0))):
            del self._prior_cache[key]

    def _events(self, ev, t_ev, comp, t_comp, ids, start, now, prior_mean, severity):
        n_c = len(self.competencies)
        e_index = pd.Index(ids)
        counts = np.zeros((len(ids), n_c))
        re = e_index.get_indexer(object_index(ev["educator_id"])) if len(ev) else np.zeros(0, int)
        rc = self._comp_index.get_indexer(object_index(ev["competency_id"])) if len(ev) \
            else np.zeros(0, int)
        known = (re >= 0) & (rc >= 0) & (t_ev <= now)
        np.add.at(counts, (re[known], rc[known]), 1.0)
        use = known & (t_ev >= start[np.maximum(re, 0)])
        src = ev["source"].to_numpy(object) if len(ev) else np.zeros(0, object)
        bias = pd.Series(self.params.source_bias, dtype=float).reindex(src).to_numpy(float)
        sd = pd.Series(self.params.source_sd, dtype=float).reindex(src).to_numpy(float)
        if "rater_id" in ev and len(severity):
            bias = bias - severity.reindex(ev["rater_id"].to_numpy(object)).fillna(0.0) \
                .to_numpy(float)
        use &= np.isfinite(bias) & np.isfinite(sd)
        rows = np.flatnonzero(use)
        # learning jumps: each completed activity on each of its targets (completion order)
        ce = e_index.get_indexer(object_index(comp["educator_id"]))
        ca = self._activities.get_indexer(object_index(comp["activity_id"]))
        done = np.flatnonzero((ce >= 0) & (t_comp <= now) & (ca >= 0))
        n_targets = np.diff(self._target_ptr)[ca[done]]
        which = np.repeat(done, n_targets)
        k = (np.repeat(self._target_ptr[ca[done]], n_targets) + np.arange(len(which))
             - np.repeat(np.cumsum(n_targets) - n_targets, n_targets))
        je, jc, jt = ce[which].astype(np.int64), self._target_c[k], t_comp[which]
        keep = jt >= start[je] if len(je) else np.zeros(0, bool)
        je, jc, jt, jg = je[keep], jc[keep], jt[keep], self._target_gain[k][keep]
        prm = self.params
        gate = np.where(self._has_prereq, prm.gate_floor + (1 - prm.gate_floor)
                        * (expit(prm.gate_slope * prior_mean) @ self._prereq_mean), 1.0)
        jump = prm.logits_per_gain * jg * gate[je, jc]
        pair = np.r_[re[rows] * n_c + rc[rows], je * n_c + jc]
        t = np.r_[t_ev[rows], jt]
        is_jump = np.r_[np.zeros(len(rows), bool), np.ones(len(je), bool)]
        order = np.lexsort((~is_jump, t, pair))
        events = _Events(
            pair=pair[order], t=t[order], is_jump=is_jump[order],
            shift=np.r_[bias[rows], jump][order], sd=np.r_[sd[rows], np.ones(len(je))][order],
            proficient=np.r_[ev["proficient"].to_numpy(bool)[rows] if len(rows) else
                             np.zeros(0, bool), np.zeros(len(je), bool)][order],
            record=np.r_[rows, np.full(len(je), -1)][order],
        )
        return events, counts


def _prior_severity(ev: pd.DataFrame, t_ev: np.ndarray, ids: np.ndarray, first: np.ndarray,
                    severity: pd.Series) -> np.ndarray:
    """(E,) the mean rater severity over each educator's records folded into the model prior
    (records up to their first completion; 0 for a record without a rater or an unknown one).

    The model predicts what the educator's own observers will say (its labels are their
    ratings), so its prior carries their leniency or harshness; adding the mean severity of
    the records behind it reads it as the skill instead.
    """
    out = np.zeros(len(ids))
    if "rater_id" not in ev or not len(severity) or not len(ev):
        return out
    r = pd.Index(ids).get_indexer(ev["educator_id"].to_numpy(object))
    mine = r >= 0
    mine[mine] &= t_ev[mine] <= first[r[mine]]
    sev = severity.reindex(ev["rater_id"].to_numpy(object)).fillna(0.0).to_numpy(float)
    total = np.bincount(r[mine], weights=sev[mine], minlength=len(ids))
    count = np.bincount(r[mine], minlength=len(ids))
    return np.divide(total, count, out=out, where=count > 0)


def _prior_inputs_digest(ev: pd.DataFrame, educators: pd.DataFrame | None, ids: np.ndarray,
                         first: np.ndarray) -> np.ndarray:
    """Per educator, a 64-bit digest of what their model prior as of ``first`` reads: their
    evidence records observed up to ``first`` and their profile row (order-free sums of row
    hashes, so the digest does not depend on the order of the frames)."""
    digest = np.zeros(len(ids), dtype=np.uint64)
    index = pd.Index(ids)
    if len(ev):
        r = index.get_indexer(ev["educator_id"].to_numpy(object))
        t = _ns(ev["observed_at"])
        mine = r >= 0
        mine[mine] &= t[mine] <= first[r[mine]]
        h = pd.util.hash_pandas_object(ev.loc[mine], index=False).to_numpy(np.uint64)
        np.add.at(digest, r[mine], h)
    if educators is not None and len(educators):
        who = (educators["educator_id"] if "educator_id" in educators.columns
               else educators.index.to_series()).to_numpy(object)
        r = index.get_indexer(who)
        profile = educators[[c for c in _PROFILE_COLUMNS if c in educators.columns]]
        h = pd.util.hash_pandas_object(profile, index=False).to_numpy(np.uint64)
        np.add.at(digest, r[r >= 0], h[r >= 0] * np.uint64(31))
    return digest


def _completions(completions: pd.DataFrame | None) -> pd.DataFrame:
    if completions is None or not len(completions):
        return pd.DataFrame({"educator_id": pd.Series([], dtype=object),
                             "activity_id": pd.Series([], dtype=object),
                             "completed_at": pd.Series([], dtype="datetime64[ns, UTC]")})
    return completions[["educator_id", "activity_id", "completed_at"]]


def _first_completion(ids: np.ndarray, who: np.ndarray, t: np.ndarray, now: int) -> np.ndarray:
    """Each educator's first completion time at or before ``now`` (``now`` when none)."""
    first = np.full(len(ids), now, dtype=np.int64)
    if len(who):
        r = pd.Index(ids).get_indexer(who)
        ok = (r >= 0) & (t <= now)
        np.minimum.at(first, r[ok], t[ok])
    return first
