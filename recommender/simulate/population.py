"""A population of simulated educators as arrays: profiles, goals, rates and latent skills.

:func:`initial_population` draws it (the model is documented in :mod:`recommender.simulate`);
:func:`catalog_arrays` lays a catalog out on the population's competency order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recommender.catalog import Catalog
from recommender.errors import UnknownCompetencyError
from recommender.evidence import SOURCES
from recommender.graph.framework import DEFAULT_SCALE
from recommender.graph.queries import depths
from recommender.simulate.labels import padded_ids, str_series, take_str
from recommender.simulate.params import (
    GRADE_BANDS,
    RATER_KINDS,
    ROLES,
    SUBJECTS,
    SimulationParams,
    check_params,
    default_subject_shares,
)
from recommender.simulate.sampling import check_count, cumulative, make_rng, sample_rows

__all__ = ["CatalogArrays", "EducatorPopulation", "SourceTable", "catalog_arrays",
           "initial_population"]


@dataclass(frozen=True)
class SourceTable:
    """Source models as arrays aligned with :data:`SOURCES`."""

    share: np.ndarray
    bias: np.ndarray
    noise_sd: np.ndarray
    extra_items: np.ndarray
    continuous: np.ndarray  # bool
    scale_min: np.ndarray
    scale_max: np.ndarray
    rater: np.ndarray  # codes into RATER_KINDS


@dataclass(frozen=True, eq=False)
class EducatorPopulation:
    """A population of simulated educators: profiles, latent skills and the graph as arrays.

    Column ``j`` of every ``(n_educators, n_competencies)`` array is ``competencies[j]``; the
    competencies are in topological order (each after its prerequisites, ties by id). Use
    :meth:`with_theta` to get the same population with new skills; nothing here is mutated.

    Attributes
    ----------
    educators : DataFrame
        Profiles: educator_id, years_experience, role, subject, grade_band, goals.
    competencies : tuple of str
    theta : ndarray of shape (n_educators, n_competencies)
        Latent skill, logits; mastered when >= 0.
    role : ndarray of int
        Codes into :data:`ROLES`.
    goals : ndarray of shape (n_educators, 2)
        Competency indices of each educator's goals, -1 where there is no second goal.
    learning_rate, engagement, evidence_rate, self_bias : ndarray of shape (n_educators,)
        Multiplier of gains, monthly completion probability, mean evidence events per month,
        and own self-rating bias (logits).
    evaluator : ndarray of int
        Index of each educator's own evaluator in ``rater_bias``.
    rater_bias : ndarray of shape (n_raters,)
    depth : ndarray of int
        Prerequisite depth of each competency.
    prereq_indptr, prereq_indices : ndarray of int
        Direct prerequisites of competency ``j`` (CSR):
        ``prereq_indices[prereq_indptr[j]:prereq_indptr[j + 1]]``.
    prereq_mean : ndarray of shape (n_competencies, n_competencies)
        ``prereq_mean[p, c] = 1 / indegree(c)`` if ``p`` is a direct prerequisite of ``c``:
        ``X @ prereq_mean`` averages ``X`` over each competency's prerequisites.
    relevant : ndarray of bool, shape (len(ROLES), n_competencies)
        Which competencies each role is relevant to.
    scale : dict
        The framework's rubric scale ``{min, max, proficient}``.
    params : SimulationParams
    """

    educators: pd.DataFrame
    competencies: tuple[str, ...]
    theta: np.ndarray
    role: np.ndarray
    goals: np.ndarray
    learning_rate: np.ndarray
    engagement: np.ndarray
    evidence_rate: np.ndarray
    self_bias: np.ndarray
    evaluator: np.ndarray
    rater_bias: np.ndarray
    depth: np.ndarray
    prereq_indptr: np.ndarray
    prereq_indices: np.ndarray
    prereq_mean: np.ndarray
    relevant: np.ndarray
    scale: dict
    params: SimulationParams
    sources: SourceTable

    @property
    def n_educators(self) -> int:
        return self.theta.shape[0]

    @property
    def n_competencies(self) -> int:
        return self.theta.shape[1]

    @property
    def educator_ids(self) -> np.ndarray:
        return self.educators["educator_id"].to_numpy(dtype=object)

    def with_theta(self, theta: np.ndarray) -> EducatorPopulation:
        """The same population with skills ``theta`` (checked for shape)."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != self.theta.shape:
            raise ValueError(f"theta must have shape {self.theta.shape}, got {theta.shape}")
        return replace(self, theta=theta)


@dataclass(frozen=True, eq=False)
class CatalogArrays:
    """A catalog as arrays aligned with a population's competencies.

    Attributes
    ----------
    activity_ids : ndarray of str, shape (n_activities,)
    weights : ndarray of shape (n_activities, n_competencies)
        Target weight of each activity on each competency (0 where not targeted).
    expected_gain, hours : ndarray of shape (n_activities,)
    """

    activity_ids: np.ndarray
    weights: np.ndarray
    expected_gain: np.ndarray
    hours: np.ndarray

    def __len__(self) -> int:
        return len(self.activity_ids)


def catalog_arrays(catalog: Catalog, competencies: tuple[str, ...] | list[str]) -> CatalogArrays:
    """Turn ``catalog`` into :class:`CatalogArrays` over ``competencies`` (a population's order)."""
    index = pd.Index(list(competencies))
    ids = catalog.activities.index.to_numpy(dtype=object)
    t = catalog.targets
    col = index.get_indexer(t["competency_id"])
    if (col < 0).any():
        raise UnknownCompetencyError(sorted(set(t["competency_id"][col < 0])))
    row = pd.Index(ids).get_indexer(t["activity_id"])
    weights = np.zeros((len(ids), len(index)))
    np.add.at(weights, (row, col), t["weight"].to_numpy(float))
    return CatalogArrays(
        activity_ids=ids,
        weights=weights,
        expected_gain=catalog.activities["expected_gain"].to_numpy(float),
        hours=catalog.activities["hours"].to_numpy(float),
    )


def _source_table(params: SimulationParams, scale: Mapping[str, float]) -> SourceTable:
    """Every source's model as arrays aligned with :data:`SOURCES` (rubric sources on ``scale``)."""
    models = [params.source_models()[s] for s in SOURCES]
    continuous = np.array([m.scale is not None for m in models])
    return SourceTable(
        share=np.array([m.share for m in models], float),
        bias=np.array([m.bias for m in models], float),
        noise_sd=np.array([m.noise_sd for m in models], float),
        extra_items=np.array([m.extra_items for m in models], float),
        continuous=continuous,
        scale_min=np.array([m.scale[0] if m.scale else scale["min"] for m in models], float),
        scale_max=np.array([m.scale[1] if m.scale else scale["max"] for m in models], float),
        rater=np.array([RATER_KINDS.index(m.rater) for m in models]),
    )


def _relevance(graph: nx.DiGraph, competencies: tuple[str, ...], params) -> np.ndarray:
    """(role, competency) bool: the role's keyword pattern matches the competency's id, name or
    domain."""
    text = [
        f"{c} {graph.nodes[c].get('name', '')} {graph.nodes[c].get('domain', '')}".lower()
        for c in competencies
    ]
    out = np.zeros((len(ROLES), len(competencies)), dtype=bool)
    for r, role in enumerate(ROLES):
        pattern = params.role_keywords.get(role)
        if pattern:
            rx = re.compile(pattern, re.IGNORECASE)
            out[r] = [bool(rx.search(t)) for t in text]
    return out


def _shares(mapping: Mapping[str, float], keys: tuple[str, ...]) -> np.ndarray:
    """One row of ``mapping``'s weights in the order of ``keys`` (missing keys: 0)."""
    return np.array([[float(mapping.get(k, 0.0)) for k in keys]])


@dataclass(frozen=True)
class _GraphArrays:
    """The framework as arrays over its competencies in topological order (ties by id)."""

    competencies: tuple[str, ...]
    depth: np.ndarray
    prereq_indptr: np.ndarray
    prereq_indices: np.ndarray
    prereq_mean: np.ndarray


def _graph_arrays(graph: nx.DiGraph) -> _GraphArrays:
    comps = tuple(nx.lexicographical_topological_sort(graph))
    n_c = len(comps)
    pos = {c: j for j, c in enumerate(comps)}
    depth_map = depths(graph)
    depth = np.array([depth_map[c] for c in comps], dtype=np.int64)
    preds = [sorted(pos[p] for p in graph.predecessors(c)) for c in comps]
    indptr = np.cumsum([0, *map(len, preds)]).astype(np.int64)
    indices = np.array([p for ps in preds for p in ps], dtype=np.int64)
    prereq_mean = np.zeros((n_c, n_c))
    for j, ps in enumerate(preds):
        if ps:
            prereq_mean[ps, j] = 1.0 / len(ps)
    return _GraphArrays(comps, depth, indptr, indices, prereq_mean)


def _draw_profiles(params: SimulationParams, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Role, grade band and subject codes, and whole years of experience, of ``n`` educators."""
    first_row = np.zeros(n, dtype=np.int64)
    role = sample_rows(cumulative(_shares(params.role_shares, ROLES)), first_row, rng.random(n))
    band = sample_rows(cumulative(_shares(params.grade_band_shares, GRADE_BANDS)), first_row,
                       rng.random(n))
    subject_table = np.vstack([
        _shares(params.subject_shares.get(b, default_subject_shares()[b]), SUBJECTS)
        for b in GRADE_BANDS
    ])
    subject = sample_rows(cumulative(subject_table), band, rng.random(n))
    offset = np.array([params.experience_role_offset.get(r, 0.0) for r in ROLES])
    years = rng.gamma(params.experience_shape, params.experience_scale, n) + offset[role]
    years = np.clip(np.floor(years), 0, 35).astype(np.int64)
    return role, band, subject, years


def _draw_theta(params: SimulationParams, g: _GraphArrays, relevant: np.ndarray,
                role: np.ndarray, years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Initial latent skills: ability, prerequisite pull, difficulty, then the soft cap."""
    n, n_c = len(role), len(g.competencies)
    b = -params.difficulty_per_depth * g.depth + params.difficulty_sd * rng.standard_normal(n_c)
    general = rng.standard_normal(n)
    role_general = np.array([params.role_general.get(r, 0.0) for r in ROLES])
    person = (params.experience_effect * (1 - np.exp(-years / params.experience_rate))
              + params.general_sd * general + role_general[role])
    ability = (person[:, None] + params.role_effect * relevant[role]
               + params.unique_sd * rng.standard_normal((n, n_c)))
    theta = np.empty_like(ability)
    rho, s = params.prerequisite_pull, params.prerequisite_softness
    margin = params.prerequisite_margin
    for j in range(n_c):  # topological order: prerequisites are final when j is reached
        ps = g.prereq_indices[g.prereq_indptr[j]:g.prereq_indptr[j + 1]]
        if len(ps):
            ability[:, j] = (1 - rho) * ability[:, j] + rho * ability[:, ps].mean(axis=1)
        x = params.intercept + b[j] + ability[:, j]
        if len(ps):
            cap = theta[:, ps].min(axis=1) + margin
            x = cap - s * np.logaddexp(0.0, (cap - x) / s)
        theta[:, j] = x
    return theta


def _draw_goals(params: SimulationParams, relevant: np.ndarray, role: np.ndarray,
                theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1 or 2 goal competencies per educator, preferring unmastered ones relevant to the role
    (Gumbel top-k); shape (n, 2), -1 where there is no second goal."""
    n, n_c = theta.shape
    log_w = (params.goal_role_boost * relevant[role]
             + np.where(theta >= 0, np.log(max(params.goal_mastered_weight, 1e-12)), 0.0))
    keys = log_w + rng.gumbel(size=(n, n_c))
    if n_c >= 2:
        top = np.argpartition(-keys, 1, axis=1)[:, :2]
        first = np.take_along_axis(keys, top, 1)
        top = np.where((first[:, :1] >= first[:, 1:]), top, top[:, ::-1])
    else:
        top = np.zeros((n, 2), dtype=np.int64)
    two = (rng.random(n) < params.goal_two_prob) & (n_c >= 2)
    return np.where(np.column_stack([np.ones(n, bool), two]), top, -1).astype(np.int64)


def _draw_rates(params: SimulationParams, n: int, rng: np.random.Generator
                ) -> dict[str, np.ndarray]:
    """Per-educator engagement, evidence rate, learning rate and self bias; raters' biases and
    each educator's evaluator."""
    k = params.completion_concentration
    engagement = rng.beta(params.completion_rate * k, (1 - params.completion_rate) * k, n)
    evidence_rate = params.evidence_rate * rng.gamma(params.evidence_rate_shape,
                                                     1 / params.evidence_rate_shape, n)
    learning_rate = params.learning_rate_mean * np.exp(
        params.learning_rate_sd * rng.standard_normal(n))
    self_bias = params.self_bias_sd * rng.standard_normal(n)
    n_raters = max(1, math.ceil(n / params.educators_per_rater))
    rater_bias = params.rater_bias_sd * rng.standard_normal(n_raters)
    evaluator = rng.integers(0, n_raters, n)
    return {"engagement": engagement, "evidence_rate": evidence_rate,
            "learning_rate": learning_rate, "self_bias": self_bias, "rater_bias": rater_bias,
            "evaluator": evaluator}


def _profile_frame(comps: tuple[str, ...], role: np.ndarray, band: np.ndarray,
                   subject: np.ndarray, years: np.ndarray, goals: np.ndarray) -> pd.DataFrame:
    """educator_id, years_experience, role, subject, grade_band, goals ('|'-joined ids)."""
    comp_labels = pa.array(comps, pa.large_string())
    goal_text = pc.binary_join_element_wise(
        take_str(comp_labels, goals[:, 0]), take_str(comp_labels, goals[:, 1]),
        pa.scalar("|", pa.large_string()),
        null_handling="skip",
    )
    return pd.DataFrame({
        "educator_id": str_series(padded_ids("E", len(role), 6)),
        "years_experience": years,
        "role": str_series(take_str(pa.array(ROLES, pa.large_string()), role)),
        "subject": str_series(take_str(pa.array(SUBJECTS, pa.large_string()), subject)),
        "grade_band": str_series(take_str(pa.array(GRADE_BANDS, pa.large_string()), band)),
        "goals": str_series(goal_text),
    })


def initial_population(
    graph: nx.DiGraph,
    n_educators: int,
    *,
    params: SimulationParams | None = None,
    random_state=0,
) -> EducatorPopulation:
    """Draw ``n_educators`` educators, their profiles, goals and initial latent skills.

    Parameters
    ----------
    graph : networkx.DiGraph
        A framework from :func:`recommender.graph.build_framework` (edge u -> v: u is a
        prerequisite of v).
    n_educators : int >= 1
    params : SimulationParams, default=SimulationParams()
    random_state : int, numpy.random.Generator or None, default=0
        Seed; a Generator is used (and advanced) as is.

    Returns
    -------
    EducatorPopulation
    """
    params = SimulationParams() if params is None else params
    check_params(params)
    n = check_count("n_educators", n_educators)
    if graph.number_of_nodes() == 0:
        raise ValueError("graph has no competencies")
    rng = make_rng(random_state)
    g = _graph_arrays(graph)
    relevant = _relevance(graph, g.competencies, params)
    scale = {**DEFAULT_SCALE, **(graph.graph.get("scale") or {})}
    # the draws, in a fixed order: same seed, same population
    role, band, subject, years = _draw_profiles(params, n, rng)
    theta = _draw_theta(params, g, relevant, role, years, rng)
    goals = _draw_goals(params, relevant, role, theta, rng)
    rates = _draw_rates(params, n, rng)
    return EducatorPopulation(
        educators=_profile_frame(g.competencies, role, band, subject, years, goals),
        competencies=g.competencies, theta=theta, role=role, goals=goals, **rates,
        depth=g.depth, prereq_indptr=g.prereq_indptr, prereq_indices=g.prereq_indices,
        prereq_mean=g.prereq_mean, relevant=relevant, scale=scale, params=params,
        sources=_source_table(params, scale),
    )
