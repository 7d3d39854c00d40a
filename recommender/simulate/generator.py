"""The data generator: a month loop over the pure steps that yields what a platform would see.

:func:`generate` draws a population, then each month lets educators choose and complete
activities, scores the activity assessments that follow, and draws the spontaneous evidence
events of the month (the model is documented in :mod:`recommender.simulate`). The latent truth
comes back apart from the evidence, for evaluation only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa

from recommender.catalog import Catalog
from recommender.evidence import OBSERVED_AT_DTYPE, SOURCES
from recommender.simulate.dynamics import apply_activities, choose_activities, drift, observe
from recommender.simulate.labels import padded_ids, str_series, take_str
from recommender.simulate.params import RATER_KINDS, SimulationParams
from recommender.simulate.population import (
    CatalogArrays,
    EducatorPopulation,
    catalog_arrays,
    initial_population,
)
from recommender.simulate.sampling import check_count, cumulative, make_rng, sample_rows

__all__ = ["DEFAULT_START", "SyntheticData", "generate"]

DEFAULT_START = "2025-08-01"
"""First day simulated when ``start`` is not given (a school year, UTC)."""

_US_PER_DAY = 86_400_000_000
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """Simulated data: what a platform would see, and the truth (``latent``) kept apart.

    Attributes
    ----------
    educators : DataFrame
        educator_id, years_experience, role, subject, grade_band, goals ('|'-joined ids).
    evidence : DataFrame
        The evidence contract (:data:`recommender.evidence.EVIDENCE_COLUMNS`), sorted by
        observed_at then evidence_id.
    completions : DataFrame
        educator_id, activity_id, completed_at, hours.
    latent : DataFrame
        educator_id, competency_id, theta_start, theta_end, mastered_start, mastered_end:
        the truth, for evaluation only (mastered means theta >= 0).
    """

    educators: pd.DataFrame
    evidence: pd.DataFrame
    completions: pd.DataFrame
    latent: pd.DataFrame


class _EvidenceRows(NamedTuple):
    """Evidence readings as parallel arrays of codes (``-1``: none)."""

    educator: np.ndarray
    competency: np.ndarray
    source: np.ndarray
    score: np.ndarray
    time_us: np.ndarray
    rater: np.ndarray  # index into evaluators, then n_raters + educator for peers and self
    activity: np.ndarray


class _CompletionRows(NamedTuple):
    educator: np.ndarray
    activity: np.ndarray
    time_us: np.ndarray


@dataclass(frozen=True)
class _Month:
    """A month's window in microseconds since the epoch, and the assessment delay within it."""

    start: int
    end: int
    delay: int

    @classmethod
    def of(cls, start: int, end: int, params: SimulationParams) -> _Month:
        delay = min(int(params.assessment_delay_days * _US_PER_DAY), (end - start) // 2)
        return cls(start, end, delay)


def _to_us(ts: pd.Timestamp) -> int:
    return int((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "us"))


def _start(start) -> pd.Timestamp:
    ts = pd.Timestamp(DEFAULT_START if start is None else start)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _times(us: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(us, dtype="datetime64[us]")).dt.tz_localize("UTC").astype(
        OBSERVED_AT_DTYPE)


def generate(
    graph: nx.DiGraph,
    catalog: Catalog,
    *,
    n_educators: int,
    months: int = 12,
    params: SimulationParams | None = None,
    random_state=0,
    start=None,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticData:
    """Simulate ``n_educators`` educators over ``months`` months.

    Parameters
    ----------
    graph : networkx.DiGraph
        The competency framework.
    catalog : Catalog
        Activities, checked against ``graph``.
    n_educators : int >= 1
    months : int >= 1, default=12
    params : SimulationParams, default=SimulationParams()
    random_state : int, numpy.random.Generator or None, default=0
        Same int -> identical output.
    start : str, datetime or Timestamp, optional
        First instant simulated (naive means UTC), default 2025-08-01 UTC. Month ``m`` runs from
        ``start + m months`` (calendar months) to the next.
    progress : callable, optional
        Called as ``progress(done_steps, total_steps)`` (one step per month and one for building
        the frames).

    Returns
    -------
    SyntheticData
    """
    params = SimulationParams() if params is None else params
    months = check_count("months", months)
    rng = make_rng(random_state)
    total = months + 1
    if progress:
        progress(0, total)
    pop = initial_population(graph, n_educators, params=params, random_state=rng)
    acts = catalog_arrays(catalog, pop.competencies)
    theta_start = pop.theta
    t0 = _start(start)
    bounds = [_to_us(t0 + pd.DateOffset(months=m)) for m in range(months + 1)]
    completed = np.zeros((pop.n_educators, len(acts)), dtype=bool)
    evidence: list[_EvidenceRows] = []
    completions: list[_CompletionRows] = []
    for m in range(months):
        month = _Month.of(bounds[m], bounds[m + 1], params)
        before = pop
        done, after = _complete_activities(pop, acts, completed, month, rng)
        completions.append(done)
        evidence.append(_assessments(after, acts, done, month, rng))
        evidence.append(_spontaneous_evidence(before, after, done, month, rng))
        pop = after.with_theta(drift(after, rng))
        if progress:
            progress(m + 1, total)

    data = _assemble(pop, acts, theta_start, evidence, completions)
    if progress:
        progress(total, total)
    return data


def _complete_activities(pop: EducatorPopulation, acts: CatalogArrays, completed: np.ndarray,
                         month: _Month, rng: np.random.Generator
                         ) -> tuple[_CompletionRows, EducatorPopulation]:
    """This month's self-chosen completions (marked in ``completed``) and the skills after."""
    act = choose_activities(pop, acts, rng, completed=completed)
    doers = np.flatnonzero(act >= 0)
    window = month.end - month.start - month.delay  # leaves room for the assessment
    done_at = month.start + np.floor(rng.random(len(doers)) * window).astype(np.int64)
    after = pop.with_theta(apply_activities(pop, act, acts, rng))
    completed[doers, act[doers]] = True
    return _CompletionRows(doers, act[doers], done_at), after


def _assessments(after: EducatorPopulation, acts: CatalogArrays, done: _CompletionRows,
                 month: _Month, rng: np.random.Generator) -> _EvidenceRows:
    """Activity assessments of one target (drawn by weight) just after a completion, so that
    they read the new skill."""
    assess = SOURCES.index("activity_assessment")
    has = rng.random(len(done.educator)) < after.params.assessment_prob
    educator, activity, time_us = done.educator[has], done.activity[has], done.time_us[has]
    n_c = after.n_competencies
    target_cum = cumulative(acts.weights[activity]) if len(activity) else np.ones((0, n_c))
    competency = sample_rows(target_cum, np.arange(len(activity)), rng.random(len(activity)))
    time_us = time_us + 1 + np.floor(rng.random(len(educator))
                                     * max(month.delay - 1, 0)).astype(np.int64)
    score = observe(after, competency, assess, rng, educator_idx=educator)
    return _EvidenceRows(educator, competency, np.full(len(educator), assess), score, time_us,
                         np.full(len(educator), -1), activity)


def _spontaneous_evidence(before: EducatorPopulation, after: EducatorPopulation,
                          done: _CompletionRows, month: _Month, rng: np.random.Generator
                          ) -> _EvidenceRows:
    """The month's evidence events, each scoring one or more competencies at one time.

    A reading at or after the educator's completion this month sees the skill ``after`` it,
    an earlier one the skill ``before``.
    """
    n, n_c = before.n_educators, before.n_competencies
    params, sources = before.params, before.sources
    n_events = rng.poisson(before.evidence_rate)
    event_educator = np.repeat(np.arange(n), n_events)
    k = len(event_educator)
    event_time = month.start + np.floor(rng.random(k) * (month.end - month.start)).astype(np.int64)
    event_source = sample_rows(cumulative(sources.share[None, :]), np.zeros(k, dtype=np.int64),
                               rng.random(k))
    extra = np.minimum(rng.poisson(sources.extra_items[event_source]), params.max_items - 1)
    event_rater, person = _event_raters(before, event_educator, event_source, rng)

    item_event = np.repeat(np.arange(k), 1 + extra)
    role_weights = cumulative(1.0 + params.role_focus * before.relevant)
    item_competency = sample_rows(role_weights, before.role[event_educator[item_event]],
                                  rng.random(len(item_event)))
    key = np.sort(item_event * n_c + item_competency)  # a competency drawn twice at one event
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    item_event, item_competency = key // n_c, key % n_c
    item_educator = event_educator[item_event]
    item_source, item_time = event_source[item_event], event_time[item_event]

    done_at = np.full(n, _NEVER, dtype=np.int64)
    done_at[done.educator] = done.time_us
    late = item_time >= done_at[item_educator]
    score = np.empty(len(item_event))
    for pop_at, mask in ((before, ~late), (after, late)):
        score[mask] = observe(pop_at, item_competency[mask], item_source[mask], rng,
                              educator_idx=item_educator[mask],
                              rater_idx=event_rater[item_event][mask])
    return _EvidenceRows(item_educator, item_competency, item_source, score, item_time,
                         person[item_event], np.full(len(item_event), -1))


def _event_raters(pop: EducatorPopulation, event_educator: np.ndarray,
                  event_source: np.ndarray, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per event, the evaluator drawn (own evaluator mostly, else any) and the person named as
    rater: that evaluator, a random peer (``n_raters + peer``), the educator (self) or -1."""
    n, k = pop.n_educators, len(event_educator)
    n_raters = len(pop.rater_bias)
    own = rng.random(k) < pop.params.own_rater_share
    evaluator = np.where(own, pop.evaluator[event_educator], rng.integers(0, n_raters, k))
    peer = ((event_educator + 1 + rng.integers(0, max(n - 1, 1), k)) % n if n > 1
            else np.full(k, -1))
    kind = pop.sources.rater[event_source]
    person = np.select(
        [kind == RATER_KINDS.index("evaluator"), kind == RATER_KINDS.index("peer"),
         kind == RATER_KINDS.index("self")],
        [evaluator, np.where(peer >= 0, n_raters + peer, -1), n_raters + event_educator],
        -1,
    )
    return evaluator, person


def _assemble(pop: EducatorPopulation, acts: CatalogArrays, theta_start: np.ndarray,
              evidence_rows: list[_EvidenceRows], completion_rows: list[_CompletionRows]
              ) -> SyntheticData:
    """Build the output frames from the per-month arrays."""
    n, n_c = pop.n_educators, pop.n_competencies
    ev = _EvidenceRows(*(np.concatenate(x) for x in zip(*evidence_rows, strict=True)))
    ev = _EvidenceRows(*(x[np.lexsort((ev.source, ev.competency, ev.educator, ev.time_us))]
                         for x in ev))
    edu_labels = pa.array(pop.educator_ids.astype(str), pa.large_string())
    comp_labels = pa.array(pop.competencies, pa.large_string())
    act_labels = pa.array(acts.activity_ids.astype(str), pa.large_string())
    rater_labels = pa.concat_arrays([padded_ids("R", len(pop.rater_bias), 5), edu_labels])
    evidence = pd.DataFrame({
        "evidence_id": str_series(padded_ids("V", len(ev.educator), 10)),
        "educator_id": str_series(take_str(edu_labels, ev.educator)),
        "competency_id": str_series(take_str(comp_labels, ev.competency)),
        "source": str_series(take_str(pa.array(SOURCES, pa.large_string()), ev.source)),
        "score": ev.score.astype(float),
        "scale_min": pop.sources.scale_min[ev.source],
        "scale_max": pop.sources.scale_max[ev.source],
        "observed_at": _times(ev.time_us),
        "rater_id": str_series(take_str(rater_labels, ev.rater)),
        "activity_id": str_series(take_str(act_labels, ev.activity)),
    })

    done = _CompletionRows(*(np.concatenate(x) for x in zip(*completion_rows, strict=True)))
    done = _CompletionRows(*(x[np.lexsort((done.activity, done.educator, done.time_us))]
                             for x in done))
    completions = pd.DataFrame({
        "educator_id": str_series(take_str(edu_labels, done.educator)),
        "activity_id": str_series(take_str(act_labels, done.activity)),
        "completed_at": _times(done.time_us),
        "hours": acts.hours[done.activity],
    })

    rows = np.repeat(np.arange(n), n_c)
    cols = np.tile(np.arange(n_c), n)
    latent = pd.DataFrame({
        "educator_id": str_series(take_str(edu_labels, rows)),
        "competency_id": str_series(take_str(comp_labels, cols)),
        "theta_start": theta_start.ravel(),
        "theta_end": pop.theta.ravel(),
        "mastered_start": theta_start.ravel() >= 0,
        "mastered_end": pop.theta.ravel() >= 0,
    })
    return SyntheticData(educators=pop.educators.copy(), evidence=evidence,
                         completions=completions, latent=latent)
