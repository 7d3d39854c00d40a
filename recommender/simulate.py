"""Synthetic educators: a documented generative model of mastery, learning and evidence.

The simulator draws a population of educators, their latent mastery of every competency of a
framework, the activities they complete month by month (and how much each one teaches them) and
the noisy evidence a professional-learning platform would receive about them. Models and
policies only ever see the evidence; the latent state is kept apart as the truth to score them
against.

Everything is vectorized over an ``educators x competencies`` array; Python loops run only over
competencies (once, in topological order, to draw the initial state) and over months.

Profiles
--------
``role`` (:data:`ROLES`), ``grade_band`` (:data:`GRADE_BANDS`) and ``subject`` (:data:`SUBJECTS`,
drawn from a per-grade-band distribution: elementary teachers mostly teach ``general``) are
categorical draws. ``years_experience`` is ``floor(Gamma(k, s) + offset[role])`` clipped to
[0, 35]: right-skewed (many early-career teachers, a long tail of veterans), with coaches and
teacher leaders a few years more experienced. Subject and grade band carry no causal effect in
this version: they are realistic profile columns a model must learn to ignore.

Which competencies a role is *relevant* to is read from the framework: a competency is relevant
to a role when one of the role's regular expressions (:attr:`SimulationParams.role_keywords`)
matches its id, name or domain (e.g. ``disab|inclus|iep`` for special educators). This keeps the
simulator usable with any framework, not one hard-coded list of ids.

Latent mastery
--------------
Each educator ``e`` has a logit-scale skill ``theta[e, c]`` on each competency ``c``, and the
truth is defined as

    P(mastered) = sigmoid(theta),   mastered  <=>  theta >= 0  (i.e. sigmoid(theta) >= 0.5).

The initial skill is built from an educator's *ability* on each competency and the
competency's *difficulty*. Ability starts as

    a[e, c] = experience_effect * (1 - exp(-years[e] / experience_rate)) + general_sd * g[e]
              + role_general[role[e]] + role_effect * relevant[role[e], c] + unique_sd * u[e, c]

with ``g``, ``u`` standard normal. ``g`` is a general ability factor shared across competencies
(an educator good at one thing tends to be good at others); the experience term rises fast
over the first years and then plateaus, as teacher-effectiveness studies find. Then, in
topological order, for a competency ``c`` with direct prerequisites ``P(c)``:

    a[e, c]     <- (1 - prerequisite_pull) * a[e, c] + prerequisite_pull * mean(a[e, P(c)])
    x           =  intercept + b[c] + a[e, c],
    b[c]        =  -difficulty_per_depth * depth[c] + difficulty_sd * z[c],     z ~ N(0, 1)
    cap         =  min(theta[e, P(c)]) + prerequisite_margin
    theta[e, c] =  cap - s * softplus((cap - x) / s),    s = prerequisite_softness

(for a root, ``theta = x``). The pull makes ability, hence mastery, correlated along edges;
the difficulty is added after the pull so that every level of depth costs the full
``difficulty_per_depth`` (deeper is harder); the soft cap (about ``x`` well below ``cap``, about
``cap`` well above it) means a dependent rarely exceeds its weakest prerequisite by more than
``prerequisite_margin`` logits: one cannot be good at what builds on a skill one lacks.

Evidence
--------
Evidence arrives in *events*: each month educator ``e`` has ``Poisson(rate[e])`` of them, with
``rate[e] = evidence_rate * Gamma(shape, 1/shape)`` (some educators are observed far more often
than others). An event has a source drawn by :attr:`SourceModel.share`, a uniform time in the
month, and ``1 + Poisson(extra_items)`` competencies (capped at ``max_items``, duplicates
dropped): one classroom observation scores several rubric components at once, all at the same
time. Competencies are drawn with weight ``1 + role_focus * relevant[role, c]``, so evidence
concentrates on the domains of the educator's role.

Every reading, whatever its source, is a noisy view of the current latent skill in logits,

    y = theta[e, c](t) + bias[source] + rater_bias[r] + self_bias[e] + noise_sd[source] * eps,

where ``rater_bias`` (``N(0, rater_bias_sd)`` per evaluator) applies to observations only, and
``self_bias[e] ~ N(0, self_bias_sd)`` (an educator's own habit of over- or under-rating, on top
of the source bias) to self-assessments only. The reading is then put on the source's scale:

- rubric sources, on the framework's scale ``[lo, hi]`` with threshold ``prof``:
  ``score = clip(floor(r + 1/2), lo, hi)``, ``r = lo - 1/2 + (hi - lo + 1) * sigmoid(k y + a)``,
  ``a = logit((prof - lo) / (hi - lo + 1))``;
- continuous sources (student growth, 0-100): ``score = min + (max - min) * sigmoid(k y + a')``,
  ``a' = logit(p)`` with ``p = (prof - lo) / (hi - lo)`` the normalized proficiency threshold.

with ``k = rubric_slope``. Both maps are chosen so that **a record is proficient exactly when
y >= 0**: the evidence label is a probit-noisy view of the truth, ``P(proficient | theta) =
Phi((theta + bias) / sd)``. Default source models (:data:`DEFAULT_SOURCES`): micro-credentials
are precise (sd 0.35), observations moderately noisy with rater bias, student growth very noisy
(sd 1.5), self-assessments inflated (+0.8 logits), peer reviews mildly lenient, activity
assessments mildly lenient and only ever follow a completed activity.

Learning from activities
------------------------
Each month educator ``e`` completes one activity with probability ``engagement[e] ~ Beta``
(mean ``completion_rate``). The activity is drawn by a softmax over activities not yet
completed, with utility

    sum_c wn[a, c] * (choice_need * (1 - sigmoid(theta[e, c])) + choice_goal * [c in goals[e]]),

where ``wn`` are the catalog weights normalized per activity: educators prefer activities on
what they are weak at and on their goals (this is the self-directed behaviour of the data
generator; a policy simulation replaces this step by a policy's recommendation). Completing
activity ``a`` changes skill by

    delta[e, c] = gain_scale * expected_gain[a] * w[a, c] * gate[e, c] * learning_rate[e] * eta,

    gate[e, c] = gate_floor + (1 - gate_floor) * mean_{p in P(c)} sigmoid(gate_slope * theta[e, p])

(``gate = 1`` for a competency without prerequisites), ``learning_rate[e] ~ LogNormal(0,
learning_rate_sd)`` and ``eta ~ LogNormal(0, gain_noise_sd)`` per completion. ``expected_gain``
is the catalog's prior rise in P(mastery) of a weight-1 target; since d sigmoid/d theta = 1/4 at
theta = 0, ``gain_scale = 4`` converts it to logits so that a ready educator at the mastery
threshold gains about ``expected_gain`` in probability. The gate is the smoothed fraction of
direct prerequisites mastered: learning without them mostly does not stick (``gate_floor``).
With probability ``assessment_prob`` an ``activity_assessment`` record on one target (drawn by
weight) follows within ``assessment_delay_days``. At the end of each month every skill takes a
small random-walk step ``N(0, drift_sd)`` (on-the-job learning and forgetting).

At most one completion per educator per month keeps time exact: a reading at time ``t`` sees
the skill after that month's completion if ``t`` is at or after the completion, before it
otherwise.

Building blocks
---------------
:func:`generate` is a loop over months of the same pure functions a policy simulation uses:
:func:`initial_population`, :func:`choose_activities`, :func:`apply_activities`,
:func:`observe`, :func:`drift` and :func:`true_mastery`. None of them mutates its inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit

from recommender.catalog import Catalog
from recommender.errors import UnknownCompetencyError
from recommender.evidence import OBSERVED_AT_DTYPE, SOURCES
from recommender.graph.framework import DEFAULT_SCALE
from recommender.graph.queries import depths

__all__ = [
    "DEFAULT_SOURCES",
    "GRADE_BANDS",
    "ROLES",
    "SOURCES",
    "SUBJECTS",
    "CatalogArrays",
    "EducatorPopulation",
    "SimulationParams",
    "SourceModel",
    "SyntheticData",
    "apply_activities",
    "catalog_arrays",
    "choose_activities",
    "drift",
    "generate",
    "initial_population",
    "observe",
    "prerequisite_gate",
    "read_synthetic",
    "source_scales",
    "true_mastery",
    "write_synthetic",
]

ROLES = (
    "classroom_teacher",
    "special_educator",
    "ell_specialist",
    "instructional_coach",
    "teacher_leader",
)
SUBJECTS = ("ela", "math", "science", "social_studies", "arts", "cte", "general")
GRADE_BANDS = ("elementary", "middle", "high")

DEFAULT_START = "2025-08-01"
"""First day simulated when ``start`` is not given (a school year, UTC)."""

_RATER_KINDS = ("none", "evaluator", "peer", "self")
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class SourceModel:
    """How one evidence source reads the latent skill.

    Parameters
    ----------
    share : float
        Relative frequency among the events an educator receives spontaneously; 0 for a source
        that only follows something else (activity assessments follow completions).
    bias : float
        Logits added to the skill: positive means the source is lenient (inflated).
    noise_sd : float
        Standard deviation of the reading's noise, in logits.
    extra_items : float, default=0
        Mean (Poisson) of further competencies scored at the same event.
    scale : tuple of (float, float) or None, default=None
        ``None``: the framework's rubric, whole points. Else a continuous ``(min, max)`` scale.
    rater : {'none', 'evaluator', 'peer', 'self'}, default='none'
        Who scores it: an ``evaluator`` (with a per-rater bias, ``rater_id`` like ``R00001``),
        a ``peer`` educator (``rater_id`` is their educator id), the educator ``self`` (with the
        educator's own self-rating bias; ``rater_id`` is their id), or nobody named.
    """

    share: float
    bias: float
    noise_sd: float
    extra_items: float = 0.0
    scale: tuple[float, float] | None = None
    rater: str = "none"


DEFAULT_SOURCES: dict[str, SourceModel] = {
    "observation": SourceModel(0.38, 0.0, 0.7, extra_items=2.0, rater="evaluator"),
    "micro_credential": SourceModel(0.18, 0.0, 0.35),
    "student_growth": SourceModel(0.14, 0.0, 1.5, scale=(0.0, 100.0)),
    "self_assessment": SourceModel(0.18, 0.8, 0.8, extra_items=3.0, rater="self"),
    "activity_assessment": SourceModel(0.0, 0.2, 0.6),
    "peer_review": SourceModel(0.12, 0.4, 1.0, extra_items=1.0, rater="peer"),
}
"""Default source models: micro-credentials precise, self-assessment inflated, growth noisy."""


def _default_role_shares() -> dict[str, float]:
    return {
        "classroom_teacher": 0.70,
        "special_educator": 0.12,
        "ell_specialist": 0.06,
        "instructional_coach": 0.06,
        "teacher_leader": 0.06,
    }


def _default_band_shares() -> dict[str, float]:
    return {"elementary": 0.45, "middle": 0.25, "high": 0.30}


def _default_subject_shares() -> dict[str, dict[str, float]]:
    order = SUBJECTS  # ela, math, science, social_studies, arts, cte, general
    rows = {
        "elementary": (0.12, 0.12, 0.06, 0.04, 0.08, 0.03, 0.55),
        "middle": (0.22, 0.22, 0.17, 0.15, 0.10, 0.08, 0.06),
        "high": (0.20, 0.20, 0.17, 0.15, 0.09, 0.15, 0.04),
    }
    return {band: dict(zip(order, row, strict=True)) for band, row in rows.items()}


def _default_role_keywords() -> dict[str, str]:
    return {
        "classroom_teacher": r"instruct|assess|classroom|learning environment|content|pedagog|plan",
        "special_educator": (
            r"disab|special|inclus|\biep\b|universal design|\budl\b|individuali[sz]|accommodat"
            r"|differentiat|intervention"
        ),
        "ell_specialist": (
            r"english learner|multilingual|\bells?\b|\bels?\b|language|bilingual|linguistic|cultur"
        ),
        "instructional_coach": (
            r"coach|collaborat|professional learning|\bplc\b|adult|feedback|mentor|reflect"
        ),
        "teacher_leader": r"lead|collaborat|professional learning|\bplc\b|communit|advoca|famil",
    }


@dataclass(frozen=True)
class SimulationParams:
    """Every knob of the generative model, with its default (see the module docstring).

    Parameters
    ----------
    role_shares : dict, default classroom teachers 70%, special educators 12%, others 6% each
        Relative frequency of each role of :data:`ROLES` (missing roles: 0).
    grade_band_shares : dict, default elementary 45%, middle 25%, high 30%
    subject_shares : dict of dict
        Per grade band, relative frequency of each subject of :data:`SUBJECTS`.
    experience_shape, experience_scale : float, default=2.0, 6.0
        Gamma distribution of years of experience (mean 12, mode 6), before the role offset.
    experience_role_offset : dict, default coaches +5, teacher leaders +4 years
    intercept : float, default=-0.2
        Baseline propensity (logits) of a root competency.
    general_sd : float, default=0.5
        Standard deviation of the general ability factor ``g``.
    unique_sd : float, default=1.2
        Standard deviation of the educator-by-competency idiosyncratic ability ``u``. Larger
        than ``general_sd`` on purpose: what an educator can do varies by competency more than
        by a single "good teacher" factor, and the prerequisite pull passes that variation
        along edges, so evidence on related competencies says what overall averages cannot.
    difficulty_per_depth : float, default=0.35
        Logits of difficulty added per level of prerequisite depth.
    difficulty_sd : float, default=0.3
        Spread of the per-competency difficulty around its depth trend.
    experience_effect : float, default=1.2
        Logits gained by a veteran over a novice (the plateau of the experience curve).
    experience_rate : float, default=5.0
        Years over which the experience effect rises to 63% of its plateau.
    role_effect : float, default=0.6
        Logits of ability added on the competencies relevant to the educator's role.
    role_general : dict, default coaches +0.3, teacher leaders +0.2
        Logits added on every competency, by role.
    role_keywords : dict of str
        Per role, a case-insensitive regular expression matched against each competency's
        ``id name domain`` to decide which competencies are relevant to the role.
    prerequisite_pull : float in [0, 1], default=0.7
        Weight of the prerequisites' mean ability in a dependent's ability.
    prerequisite_margin : float, default=1.0
        How far (logits) a dependent may exceed its weakest prerequisite before the soft cap bites.
    prerequisite_softness : float, default=0.5
        Width of the soft cap's transition.
    evidence_rate : float, default=1.2
        Mean evidence events per educator per month.
    evidence_rate_shape : float, default=2.0
        Gamma shape of the per-educator rate multiplier (smaller: more unequal).
    role_focus : float, default=2.0
        Extra weight of role-relevant competencies when evidence picks a competency.
    max_items : int, default=6
        Most competencies scored at one event.
    sources : dict of SourceModel, default :data:`DEFAULT_SOURCES`
        Source models; keys missing here keep their default.
    rubric_slope : float, default=1.0
        ``k``: rubric points per logit around the threshold (how fast scores rise with skill).
    educators_per_rater : int, default=30
        Educators per evaluator (one evaluator per school-sized group).
    own_rater_share : float, default=0.85
        Probability that an observation is made by the educator's own evaluator.
    rater_bias_sd : float, default=0.5
        Spread of evaluators' leniency, logits.
    self_bias_sd : float, default=0.4
        Spread of educators' own self-rating habit around the self-assessment source bias.
    completion_rate : float in (0, 1), default=0.4
        Mean monthly probability of completing an activity.
    completion_concentration : float, default=5.0
        Beta concentration of the per-educator engagement (larger: more alike).
    choice_need, choice_goal : float, default=4.0, 1.5
        Utility weights of need (1 - mastery) and of goals in an educator's own activity choice.
    gain_scale : float, default=4.0
        Logits per unit of ``expected_gain`` (4 = slope of the logit at P = 0.5).
    gate_floor : float in [0, 1], default=0.15
        Share of a gain that sticks when no prerequisite is mastered.
    gate_slope : float, default=3.0
        Sharpness of the smoothed prerequisite-mastered indicator.
    learning_rate_sd : float, default=0.3
        Log-scale spread of educators' learning rates.
    gain_noise_sd : float, default=0.3
        Log-scale spread of one completion's gain.
    assessment_prob : float in [0, 1], default=0.7
        Probability that a completed activity is followed by an activity assessment.
    assessment_delay_days : float, default=3.0
        The assessment follows the completion within this many days.
    drift_sd : float, default=0.04
        Monthly random-walk step of every skill (logits).
    goal_two_prob : float in [0, 1], default=0.5
        Probability that an educator has two goals rather than one.
    goal_role_boost : float, default=1.0
        Log-weight added to role-relevant competencies when drawing goals.
    goal_mastered_weight : float, default=0.1
        Relative weight of a competency already mastered when drawing goals.
    """

    role_shares: dict[str, float] = field(default_factory=_default_role_shares)
    grade_band_shares: dict[str, float] = field(default_factory=_default_band_shares)
    subject_shares: dict[str, dict[str, float]] = field(default_factory=_default_subject_shares)
    experience_shape: float = 2.0
    experience_scale: float = 6.0
    experience_role_offset: dict[str, float] = field(
        default_factory=lambda: {"instructional_coach": 5.0, "teacher_leader": 4.0}
    )
    intercept: float = -0.2
    general_sd: float = 0.5
    unique_sd: float = 1.2
    difficulty_per_depth: float = 0.35
    difficulty_sd: float = 0.3
    experience_effect: float = 1.2
    experience_rate: float = 5.0
    role_effect: float = 0.6
    role_general: dict[str, float] = field(
        default_factory=lambda: {"instructional_coach": 0.3, "teacher_leader": 0.2}
    )
    role_keywords: dict[str, str] = field(default_factory=_default_role_keywords)
    prerequisite_pull: float = 0.7
    prerequisite_margin: float = 1.0
    prerequisite_softness: float = 0.5
    evidence_rate: float = 1.2
    evidence_rate_shape: float = 2.0
    role_focus: float = 2.0
    max_items: int = 6
    sources: dict[str, SourceModel] = field(default_factory=lambda: dict(DEFAULT_SOURCES))
    rubric_slope: float = 1.0
    educators_per_rater: int = 30
    own_rater_share: float = 0.85
    rater_bias_sd: float = 0.5
    self_bias_sd: float = 0.4
    completion_rate: float = 0.4
    completion_concentration: float = 5.0
    choice_need: float = 4.0
    choice_goal: float = 1.5
    gain_scale: float = 4.0
    gate_floor: float = 0.15
    gate_slope: float = 3.0
    learning_rate_sd: float = 0.3
    gain_noise_sd: float = 0.3
    assessment_prob: float = 0.7
    assessment_delay_days: float = 3.0
    drift_sd: float = 0.04
    goal_two_prob: float = 0.5
    goal_role_boost: float = 1.0
    goal_mastered_weight: float = 0.1

    def source_models(self) -> dict[str, SourceModel]:
        """The model of every source of :data:`SOURCES`: :attr:`sources` over the defaults."""
        return {s: self.sources.get(s, DEFAULT_SOURCES[s]) for s in SOURCES}


def _check_params(params: SimulationParams) -> None:
    """Raise ValueError naming the first parameter out of its domain."""
    if not isinstance(params, SimulationParams):
        raise TypeError(f"params must be a SimulationParams, got {type(params).__name__}")

    def bad(name: str, rule: str) -> ValueError:
        return ValueError(
            f"The {name!r} parameter of SimulationParams must be {rule}. "
            f"Got {getattr(params, name)!r} instead."
        )

    for name in ("role_shares", "grade_band_shares", "experience_role_offset", "role_general",
                 "role_keywords", "sources", "subject_shares"):
        allowed = {"role_shares": ROLES, "grade_band_shares": GRADE_BANDS,
                   "experience_role_offset": ROLES, "role_general": ROLES, "role_keywords": ROLES,
                   "sources": SOURCES, "subject_shares": GRADE_BANDS}[name]
        unknown = sorted(set(getattr(params, name)) - set(allowed))
        if unknown:
            raise bad(name, f"keyed by {list(allowed)} (unknown keys {unknown})")
    for name in ("role_shares", "grade_band_shares"):
        values = np.array([getattr(params, name).get(k, 0.0) for k in
                           (ROLES if name == "role_shares" else GRADE_BANDS)], float)
        if (values < 0).any() or not values.sum() > 0:
            raise bad(name, "non-negative shares with a positive total")
    for band, shares in params.subject_shares.items():
        values = np.array([shares.get(s, 0.0) for s in SUBJECTS], float)
        if set(shares) - set(SUBJECTS) or (values < 0).any() or not values.sum() > 0:
            raise bad("subject_shares", f"non-negative shares over {list(SUBJECTS)} per band "
                                        f"(band {band!r} is not)")
    models = params.source_models()
    for name, m in models.items():
        if m.share < 0 or m.noise_sd < 0 or m.extra_items < 0 or m.rater not in _RATER_KINDS:
            raise bad("sources", f"SourceModels with share, noise_sd, extra_items >= 0 and rater "
                                 f"in {list(_RATER_KINDS)} (source {name!r} is not)")
        if m.scale is not None and not m.scale[0] < m.scale[1]:
            raise bad("sources", f"SourceModels with scale min < max (source {name!r} is not)")
    if not sum(m.share for m in models.values()) > 0:
        raise bad("sources", "SourceModels with a positive total share")
    probabilities = ("prerequisite_pull", "own_rater_share", "gate_floor", "assessment_prob",
                     "goal_two_prob")
    for name in probabilities:
        if not 0 <= getattr(params, name) <= 1:
            raise bad(name, "in [0, 1]")
    if not 0 < params.completion_rate < 1:
        raise bad("completion_rate", "in (0, 1)")
    positive = ("experience_shape", "experience_scale", "experience_rate", "prerequisite_softness",
                "evidence_rate_shape", "rubric_slope", "completion_concentration",
                "educators_per_rater", "max_items")
    for name in positive:
        if not getattr(params, name) > 0:
            raise bad(name, "> 0")
    non_negative = ("general_sd", "unique_sd", "difficulty_sd", "evidence_rate", "role_focus",
                    "rater_bias_sd", "self_bias_sd", "gain_scale", "learning_rate_sd",
                    "gain_noise_sd", "assessment_delay_days", "drift_sd", "goal_mastered_weight",
                    "prerequisite_margin")
    for name in non_negative:
        if not getattr(params, name) >= 0:
            raise bad(name, ">= 0")
    for name, pattern in params.role_keywords.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise bad("role_keywords", f"valid regular expressions ({name!r}: {exc})") from None


# --------------------------------------------------------------------------------------------
# population


@dataclass(frozen=True)
class _SourceTable:
    """Source models as arrays aligned with :data:`SOURCES`."""

    share: np.ndarray
    bias: np.ndarray
    noise_sd: np.ndarray
    extra_items: np.ndarray
    continuous: np.ndarray  # bool
    scale_min: np.ndarray
    scale_max: np.ndarray
    rater: np.ndarray  # codes into _RATER_KINDS


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
    sources: _SourceTable

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


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        raise TypeError("random_state must be an int, a numpy Generator or None, not RandomState")
    return np.random.default_rng(random_state)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative shares of ``weights`` (2-D), each row ending at exactly 1."""
    cum = np.cumsum(weights, axis=1)
    cum = cum / cum[:, -1:]
    cum[:, -1] = 1.0
    return cum


def _sample_rows(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one column per entry of ``rows`` from the row's cumulative shares, vectorized.

    Rows are stacked as ``r + cum[r]`` into one increasing array so that a single
    ``searchsorted`` serves every row.
    """
    n_rows, k = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + u, side="right") - rows * k
    return np.clip(pos, 0, k - 1)


def _padded_ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``1..n`` as an arrow string array, written straight to a buffer.

    Digits come four at a time from a lookup table, and the fixed-width bytes become the string
    array's data buffer with regular offsets: no Python string is ever created.
    """
    width = max(width, len(str(n)))
    chunks = -(-width // 4)
    table = np.array([f"{i:04d}" for i in range(10_000)], dtype="S4").view(np.uint32)
    words = np.empty((n, chunks), dtype=np.uint32)
    x = np.arange(1, n + 1, dtype=np.int64)
    for j in range(chunks - 1, -1, -1):
        x, r = np.divmod(x, 10_000)
        words[:, j] = table[r]
    size = len(prefix) + width
    body = np.empty((n, size), dtype=np.uint8)
    body[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    body[:, len(prefix):] = words.view(np.uint8).reshape(n, 4 * chunks)[:, 4 * chunks - width:]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(body.ravel())]
    )


def _str_series(values: pa.Array | np.ndarray, name: str | None = None) -> pd.Series:
    """An arrow or object array as a pandas ``str`` Series (missing values stay missing)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.large_string())
    return pd.Series(pd.array(arr, dtype="str"), name=name)


def _take_str(labels: pa.Array, idx: np.ndarray) -> pa.Array:
    """``labels[idx]`` with ``idx < 0`` giving a missing value."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = idx < 0
    return pc.take(labels, pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))


def _source_table(params: SimulationParams, scale: Mapping[str, float]) -> _SourceTable:
    models = [params.source_models()[s] for s in SOURCES]
    continuous = np.array([m.scale is not None for m in models])
    return _SourceTable(
        share=np.array([m.share for m in models], float),
        bias=np.array([m.bias for m in models], float),
        noise_sd=np.array([m.noise_sd for m in models], float),
        extra_items=np.array([m.extra_items for m in models], float),
        continuous=continuous,
        scale_min=np.array([m.scale[0] if m.scale else scale["min"] for m in models], float),
        scale_max=np.array([m.scale[1] if m.scale else scale["max"] for m in models], float),
        rater=np.array([_RATER_KINDS.index(m.rater) for m in models]),
    )


def _relevance(graph: nx.DiGraph, competencies: tuple[str, ...], params) -> np.ndarray:
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
    return np.array([[float(mapping.get(k, 0.0)) for k in keys]])


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
    _check_params(params)
    n = _check_count("n_educators", n_educators)
    if graph.number_of_nodes() == 0:
        raise ValueError("graph has no competencies")
    rng = _rng(random_state)
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
    relevant = _relevance(graph, comps, params)
    scale = {**DEFAULT_SCALE, **(graph.graph.get("scale") or {})}

    # profiles
    role = _sample_rows(_cumulative(_shares(params.role_shares, ROLES)),
                        np.zeros(n, dtype=np.int64), rng.random(n))
    band = _sample_rows(_cumulative(_shares(params.grade_band_shares, GRADE_BANDS)),
                        np.zeros(n, dtype=np.int64), rng.random(n))
    subject_table = np.vstack([
        _shares(params.subject_shares.get(b, _default_subject_shares()[b]), SUBJECTS)
        for b in GRADE_BANDS
    ])
    subject = _sample_rows(_cumulative(subject_table), band, rng.random(n))
    offset = np.array([params.experience_role_offset.get(r, 0.0) for r in ROLES])
    years = rng.gamma(params.experience_shape, params.experience_scale, n) + offset[role]
    years = np.clip(np.floor(years), 0, 35).astype(np.int64)

    # latent skill
    b = -params.difficulty_per_depth * depth + params.difficulty_sd * rng.standard_normal(n_c)
    g = rng.standard_normal(n)
    role_general = np.array([params.role_general.get(r, 0.0) for r in ROLES])
    person = (params.experience_effect * (1 - np.exp(-years / params.experience_rate))
              + params.general_sd * g + role_general[role])
    ability = (person[:, None] + params.role_effect * relevant[role]
               + params.unique_sd * rng.standard_normal((n, n_c)))
    theta = np.empty_like(ability)
    rho, s = params.prerequisite_pull, params.prerequisite_softness
    margin = params.prerequisite_margin
    for j in range(n_c):  # topological order: prerequisites are final when j is reached
        ps = indices[indptr[j]:indptr[j + 1]]
        if len(ps):
            ability[:, j] = (1 - rho) * ability[:, j] + rho * ability[:, ps].mean(axis=1)
        x = params.intercept + b[j] + ability[:, j]
        if len(ps):
            cap = theta[:, ps].min(axis=1) + margin
            x = cap - s * np.logaddexp(0.0, (cap - x) / s)
        theta[:, j] = x

    # goals: 1 or 2 competencies, preferring unmastered ones relevant to the role (Gumbel top-k)
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
    goals = np.where(np.column_stack([np.ones(n, bool), two]), top, -1).astype(np.int64)

    # per-educator rates
    k = params.completion_concentration
    engagement = rng.beta(params.completion_rate * k, (1 - params.completion_rate) * k, n)
    evidence_rate = params.evidence_rate * rng.gamma(params.evidence_rate_shape,
                                                     1 / params.evidence_rate_shape, n)
    learning_rate = np.exp(params.learning_rate_sd * rng.standard_normal(n))
    self_bias = params.self_bias_sd * rng.standard_normal(n)
    n_raters = max(1, math.ceil(n / params.educators_per_rater))
    rater_bias = params.rater_bias_sd * rng.standard_normal(n_raters)
    evaluator = rng.integers(0, n_raters, n)

    comp_labels = pa.array(comps, pa.large_string())
    goal_text = pc.binary_join_element_wise(
        _take_str(comp_labels, goals[:, 0]), _take_str(comp_labels, goals[:, 1]),
        pa.scalar("|", pa.large_string()),
        null_handling="skip",
    )
    educators = pd.DataFrame({
        "educator_id": _str_series(_padded_ids("E", n, 6)),
        "years_experience": years,
        "role": _str_series(_take_str(pa.array(ROLES, pa.large_string()), role)),
        "subject": _str_series(_take_str(pa.array(SUBJECTS, pa.large_string()), subject)),
        "grade_band": _str_series(_take_str(pa.array(GRADE_BANDS, pa.large_string()), band)),
        "goals": _str_series(goal_text),
    })
    return EducatorPopulation(
        educators=educators, competencies=comps, theta=theta, role=role, goals=goals,
        learning_rate=learning_rate, engagement=engagement, evidence_rate=evidence_rate,
        self_bias=self_bias, evaluator=evaluator, rater_bias=rater_bias, depth=depth,
        prereq_indptr=indptr, prereq_indices=indices, prereq_mean=prereq_mean,
        relevant=relevant, scale=scale, params=params, sources=_source_table(params, scale),
    )


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# the pure steps


def true_mastery(pop: EducatorPopulation) -> np.ndarray:
    """``sigmoid(theta)``: the true probability of mastery, shape (n_educators, n_competencies).

    An educator has mastered a competency when it is >= 0.5 (``theta >= 0``).
    """
    return expit(pop.theta)


def prerequisite_gate(pop: EducatorPopulation, theta: np.ndarray | None = None) -> np.ndarray:
    """Share of a gain on each competency that sticks, given prerequisite mastery.

    ``gate_floor + (1 - gate_floor) * mean over direct prerequisites of
    sigmoid(gate_slope * theta)``, 1 for competencies without prerequisites. ``theta`` (rows
    of skills, default ``pop.theta``) may be any subset of educators.
    """
    theta = pop.theta if theta is None else np.asarray(theta, dtype=float)
    p = pop.params
    has_prereq = np.diff(pop.prereq_indptr) > 0
    ready = expit(p.gate_slope * theta) @ pop.prereq_mean
    return np.where(has_prereq, p.gate_floor + (1 - p.gate_floor) * ready, 1.0)


def apply_activities(
    pop: EducatorPopulation,
    activity_idx: np.ndarray,
    activities: CatalogArrays,
    rng: np.random.Generator,
) -> np.ndarray:
    """New skills after each educator completes ``activity_idx[e]`` (-1: none). Pure.

    ``delta = gain_scale * expected_gain[a] * weight[a, c] * gate[e, c] * learning_rate[e] * eta``
    with ``eta ~ LogNormal(0, gain_noise_sd)`` drawn per completion, and the gate computed from
    the skills before the activity.

    Returns
    -------
    ndarray of shape (n_educators, n_competencies)
        A new array; ``pop.theta`` is unchanged.
    """
    act = np.asarray(activity_idx, dtype=np.int64)
    if act.shape != (pop.n_educators,):
        raise ValueError(f"activity_idx must have shape ({pop.n_educators},), got {act.shape}")
    if (act >= len(activities)).any() or (act < -1).any():
        raise ValueError(f"activity_idx must be in [-1, {len(activities) - 1}]")
    if activities.weights.shape[1] != pop.n_competencies:
        raise ValueError("activities were built for a different competency order; "
                         "use catalog_arrays(catalog, pop.competencies)")
    theta = pop.theta.copy()
    rows = np.flatnonzero(act >= 0)
    eta = np.exp(pop.params.gain_noise_sd * rng.standard_normal(len(rows)))
    if len(rows):
        a = act[rows]
        scale = (pop.params.gain_scale * activities.expected_gain[a]
                 * pop.learning_rate[rows] * eta)
        gate = prerequisite_gate(pop, theta[rows])
        theta[rows] += scale[:, None] * activities.weights[a] * gate
    return theta


def drift(pop: EducatorPopulation, rng: np.random.Generator) -> np.ndarray:
    """New skills after one month's random walk ``N(0, drift_sd)`` on every skill. Pure."""
    sd = pop.params.drift_sd
    if sd == 0:
        return pop.theta.copy()
    return pop.theta + sd * rng.standard_normal(pop.theta.shape)


def _source_codes(sources, n: int) -> np.ndarray:
    arr = np.asarray(sources)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64)
        if ((codes < 0) | (codes >= len(SOURCES))).any():
            raise ValueError(f"source codes must be in [0, {len(SOURCES) - 1}]")
    else:
        codes = pd.Index(SOURCES).get_indexer(arr.astype(object).ravel()).reshape(arr.shape)
        if (codes < 0).any():
            unknown = sorted(set(arr.astype(object).ravel()[codes.ravel() < 0]))
            raise ValueError(f"unknown source(s) {unknown}; expected one of {list(SOURCES)}")
    return np.broadcast_to(codes, (n,)).astype(np.int64)


def source_scales(pop: EducatorPopulation, sources) -> tuple[np.ndarray, np.ndarray]:
    """``(scale_min, scale_max)`` of each source given by name or code."""
    codes = _source_codes(sources, np.asarray(sources).size or 1)
    return pop.sources.scale_min[codes], pop.sources.scale_max[codes]


def observe(
    pop: EducatorPopulation,
    competency_idx,
    sources,
    rng: np.random.Generator,
    *,
    educator_idx=None,
    rater_idx=None,
) -> np.ndarray:
    """Noisy scores of the current skill, one per (educator, competency, source) reading.

    Parameters
    ----------
    pop : EducatorPopulation
    competency_idx : int or array of int
        Column of the competency read.
    sources : str, int or array of them
        Source names (or codes into :data:`SOURCES`); a scalar applies to every reading.
    rng : numpy.random.Generator
    educator_idx : array of int, optional
        Row of the educator read; by default one reading of each educator in order.
    rater_idx : array of int, optional
        Evaluator of each reading (index into ``pop.rater_bias``, -1: none); by default each
        educator's own evaluator. Used only by sources whose rater is ``evaluator``.

    Returns
    -------
    ndarray of float
        Scores on each source's scale (:func:`source_scales`); a reading is proficient, on its
        scale, exactly when ``theta + bias + rater/self bias + noise >= 0``.
    """
    e = (np.arange(pop.n_educators) if educator_idx is None
         else np.asarray(educator_idx, dtype=np.int64).ravel())
    n = len(e)
    c = np.broadcast_to(np.asarray(competency_idx, dtype=np.int64), (n,))
    src = _source_codes(sources, n)
    t = pop.sources
    y = pop.theta[e, c] + t.bias[src] + t.noise_sd[src] * rng.standard_normal(n)
    kind = t.rater[src]
    is_eval = kind == _RATER_KINDS.index("evaluator")
    if is_eval.any():
        r = pop.evaluator[e] if rater_idx is None else np.broadcast_to(
            np.asarray(rater_idx, dtype=np.int64), (n,))
        y = y + np.where(is_eval & (r >= 0), pop.rater_bias[np.maximum(r, 0)], 0.0)
    y = y + np.where(kind == _RATER_KINDS.index("self"), pop.self_bias[e], 0.0)

    lo, hi, prof = (float(pop.scale[k]) for k in ("min", "max", "proficient"))
    k = pop.params.rubric_slope
    a_rubric = _logit((prof - lo) / (hi - lo + 1))
    rubric = (lo - 0.5) + (hi - lo + 1) * expit(k * y + a_rubric)
    rubric = np.clip(np.floor(rubric + 0.5), lo, hi)
    a_cont = _logit((prof - lo) / (hi - lo))
    smin, smax = t.scale_min[src], t.scale_max[src]
    continuous = smin + (smax - smin) * expit(k * y + a_cont)
    return np.where(t.continuous[src], continuous, rubric)


def choose_activities(
    pop: EducatorPopulation,
    activities: CatalogArrays,
    rng: np.random.Generator,
    *,
    completed: np.ndarray | None = None,
) -> np.ndarray:
    """Each educator's own choice this month: an activity index, or -1 for none.

    An educator completes something with probability ``engagement[e]``; the activity is drawn
    by softmax over activities not in ``completed`` (bool, n_educators x n_activities) with
    utility ``sum_c wn[a, c] * (choice_need * (1 - sigmoid(theta[e, c])) + choice_goal *
    [c is a goal of e])``, ``wn`` the catalog weights normalized per activity.
    """
    n = pop.n_educators
    active = rng.random(n) < pop.engagement
    rows = np.flatnonzero(active)
    out = np.full(n, -1, dtype=np.int64)
    if not len(rows) or not len(activities):
        return out
    w = activities.weights
    wn = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    # per-competency appeal, then one product gives every activity's utility
    appeal = pop.params.choice_need * (1.0 - expit(pop.theta[rows]))
    goals = pop.goals[rows]
    for k in range(goals.shape[1]):
        has = goals[:, k] >= 0
        appeal[np.flatnonzero(has), goals[has, k]] += pop.params.choice_goal
    weight = np.exp(appeal @ wn.T)  # softmax numerators; utility is at most need + goal
    if completed is not None:
        weight[completed[rows]] = 0.0
    # inverse-CDF draw from each row's softmax (cheaper than Gumbel-max over the whole matrix)
    cum = np.cumsum(weight, axis=1)
    total = cum[:, -1]
    u = rng.random(len(rows)) * total
    pick = np.minimum((cum <= u[:, None]).sum(axis=1), len(activities) - 1)
    has_left = total > 0
    out[rows[has_left]] = pick[has_left]
    return out


# --------------------------------------------------------------------------------------------
# the data generator


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


_FRAMES = ("educators", "evidence", "completions", "latent")


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
    months = _check_count("months", months)
    rng = _rng(random_state)
    total = months + 1
    if progress:
        progress(0, total)
    pop = initial_population(graph, n_educators, params=params, random_state=rng)
    acts = catalog_arrays(catalog, pop.competencies)
    n, n_c, n_a = pop.n_educators, pop.n_competencies, len(acts)
    theta_start = pop.theta
    t0 = _start(start)
    bounds = np.array([_to_us(t0 + pd.DateOffset(months=m)) for m in range(months + 1)])

    src_t = pop.sources
    spontaneous = _cumulative(src_t.share[None, :])
    comp_w = _cumulative(1.0 + params.role_focus * pop.relevant)
    assess = SOURCES.index("activity_assessment")
    completed = np.zeros((n, n_a), dtype=bool)
    ev_parts: list[tuple[np.ndarray, ...]] = []
    comp_parts: list[tuple[np.ndarray, ...]] = []

    for m in range(months):
        lo_t, hi_t = int(bounds[m]), int(bounds[m + 1])
        span = min(int(params.assessment_delay_days * _US_PER_DAY), (hi_t - lo_t) // 2)
        before = pop

        # completions and what they teach
        act = choose_activities(pop, acts, rng, completed=completed)
        doers = np.flatnonzero(act >= 0)
        t_done = lo_t + np.floor(rng.random(len(doers)) * (hi_t - lo_t - span)).astype(np.int64)
        after = pop.with_theta(apply_activities(pop, act, acts, rng))
        completed[doers, act[doers]] = True
        comp_parts.append((doers, act[doers], t_done))
        done_at = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        done_at[doers] = t_done

        # activity assessments, just after the completion (so they see the new skill)
        has = rng.random(len(doers)) < params.assessment_prob
        a_e, a_a, a_t = doers[has], act[doers][has], t_done[has]
        a_c = _sample_rows(_cumulative(acts.weights[a_a]) if len(a_a) else np.ones((0, n_c)),
                           np.arange(len(a_a)), rng.random(len(a_a)))
        a_t = a_t + 1 + np.floor(rng.random(len(a_e)) * max(span - 1, 0)).astype(np.int64)
        a_score = observe(after, a_c, assess, rng, educator_idx=a_e)
        ev_parts.append((a_e, a_c, np.full(len(a_e), assess), a_score, a_t,
                         np.full(len(a_e), -1), a_a))

        # spontaneous evidence events, each scoring one or more competencies
        n_events = rng.poisson(pop.evidence_rate)
        ev_e = np.repeat(np.arange(n), n_events)
        k = len(ev_e)
        ev_t = lo_t + np.floor(rng.random(k) * (hi_t - lo_t)).astype(np.int64)
        ev_s = _sample_rows(spontaneous, np.zeros(k, dtype=np.int64), rng.random(k))
        extra = np.minimum(rng.poisson(src_t.extra_items[ev_s]), params.max_items - 1)
        kind = src_t.rater[ev_s]
        own = rng.random(k) < params.own_rater_share
        ev_r = np.where(own, pop.evaluator[ev_e], rng.integers(0, len(pop.rater_bias), k))
        peer = (ev_e + 1 + rng.integers(0, max(n - 1, 1), k)) % n if n > 1 else np.full(k, -1)
        n_r = len(pop.rater_bias)
        person = np.select(
            [kind == _RATER_KINDS.index("evaluator"), kind == _RATER_KINDS.index("peer"),
             kind == _RATER_KINDS.index("self")],
            [ev_r, np.where(peer >= 0, n_r + peer, -1), n_r + ev_e],
            -1,
        )
        item_ev = np.repeat(np.arange(k), 1 + extra)
        item_c = _sample_rows(comp_w, pop.role[ev_e[item_ev]], rng.random(len(item_ev)))
        key = np.sort(item_ev * n_c + item_c)  # drop a competency drawn twice at one event
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        item_ev, item_c = key // n_c, key % n_c
        i_e, i_s, i_t = ev_e[item_ev], ev_s[item_ev], ev_t[item_ev]
        late = i_t >= done_at[i_e]
        score = np.empty(len(item_ev))
        for pop_at, mask in ((before, ~late), (after, late)):
            score[mask] = observe(pop_at, item_c[mask], i_s[mask], rng,
                                  educator_idx=i_e[mask], rater_idx=ev_r[item_ev][mask])
        ev_parts.append((i_e, item_c, i_s, score, i_t, person[item_ev],
                         np.full(len(item_ev), -1)))

        pop = after.with_theta(drift(after, rng))
        if progress:
            progress(m + 1, total)

    data = _assemble(pop, acts, theta_start, ev_parts, comp_parts)
    if progress:
        progress(total, total)
    return data


def _assemble(pop, acts, theta_start, ev_parts, comp_parts) -> SyntheticData:
    """Build the output frames from the per-month arrays."""
    n, n_c = pop.n_educators, pop.n_competencies
    e, c, s, score, t, person, a = (np.concatenate(x) for x in zip(*ev_parts, strict=True))
    order = np.lexsort((s, c, e, t))
    e, c, s, score, t, person, a = (x[order] for x in (e, c, s, score, t, person, a))
    edu_labels = pa.array(pop.educator_ids.astype(str), pa.large_string())
    comp_labels = pa.array(pop.competencies, pa.large_string())
    act_labels = pa.array(acts.activity_ids.astype(str), pa.large_string())
    rater_labels = pa.concat_arrays([_padded_ids("R", len(pop.rater_bias), 5), edu_labels])
    evidence = pd.DataFrame({
        "evidence_id": _str_series(_padded_ids("V", len(e), 10)),
        "educator_id": _str_series(_take_str(edu_labels, e)),
        "competency_id": _str_series(_take_str(comp_labels, c)),
        "source": _str_series(_take_str(pa.array(SOURCES, pa.large_string()), s)),
        "score": score.astype(float),
        "scale_min": pop.sources.scale_min[s],
        "scale_max": pop.sources.scale_max[s],
        "observed_at": _times(t),
        "rater_id": _str_series(_take_str(rater_labels, person)),
        "activity_id": _str_series(_take_str(act_labels, a)),
    })

    ce, ca, ct = (np.concatenate(x) for x in zip(*comp_parts, strict=True))
    order = np.lexsort((ca, ce, ct))
    ce, ca, ct = ce[order], ca[order], ct[order]
    completions = pd.DataFrame({
        "educator_id": _str_series(_take_str(edu_labels, ce)),
        "activity_id": _str_series(_take_str(act_labels, ca)),
        "completed_at": _times(ct),
        "hours": acts.hours[ca],
    })

    rows = np.repeat(np.arange(n), n_c)
    cols = np.tile(np.arange(n_c), n)
    latent = pd.DataFrame({
        "educator_id": _str_series(_take_str(edu_labels, rows)),
        "competency_id": _str_series(_take_str(comp_labels, cols)),
        "theta_start": theta_start.ravel(),
        "theta_end": pop.theta.ravel(),
        "mastered_start": theta_start.ravel() >= 0,
        "mastered_end": pop.theta.ravel() >= 0,
    })
    return SyntheticData(educators=pop.educators.copy(), evidence=evidence,
                         completions=completions, latent=latent)


def write_synthetic(data: SyntheticData, out_dir) -> dict[str, Path]:
    """Write ``data`` as parquet: educators, evidence and completions in ``out_dir``, the truth
    (latent) in ``out_dir/truth/``. Returns the path of each frame by name."""
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.parquet" for name in _FRAMES if name != "latent"}
    paths["latent"] = out / "truth" / "latent.parquet"
    for f in fields(data):
        getattr(data, f.name).to_parquet(paths[f.name], index=False)
    return paths


def read_synthetic(out_dir) -> SyntheticData:
    """Read what :func:`write_synthetic` wrote in ``out_dir``."""
    out = Path(out_dir)
    paths = {name: out / f"{name}.parquet" for name in _FRAMES if name != "latent"}
    paths["latent"] = out / "truth" / "latent.parquet"
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"not a synthetic data folder, missing: {missing}")
    return SyntheticData(**{name: pd.read_parquet(p) for name, p in paths.items()})
