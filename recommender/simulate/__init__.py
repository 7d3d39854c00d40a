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

(``gate = 1`` for a competency without prerequisites), ``learning_rate[e] ~ learning_rate_mean *
LogNormal(0, learning_rate_sd)`` and ``eta ~ LogNormal(0, gain_noise_sd)`` per completion. ``expected_gain``
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

Modules
-------
:mod:`~recommender.simulate.params` (:class:`SimulationParams`, :class:`SourceModel`, the
profile categories), :mod:`~recommender.simulate.population` (:func:`initial_population`,
:func:`catalog_arrays`), :mod:`~recommender.simulate.dynamics` (the pure steps),
:mod:`~recommender.simulate.generator` (:func:`generate`), :mod:`~recommender.simulate.io`
(parquet files), :mod:`~recommender.simulate.scenarios` (misspecified worlds for policy
comparisons), :mod:`~recommender.simulate.sampling` and :mod:`~recommender.simulate.labels`
(vectorized draws, arrow ids). This package only re-exports their public names.
"""

from recommender.evidence import SOURCES
from recommender.simulate.dynamics import (
    apply_activities,
    choose_activities,
    drift,
    observe,
    prerequisite_gate,
    source_scales,
    true_mastery,
)
from recommender.simulate.generator import SyntheticData, generate
from recommender.simulate.io import read_synthetic, write_synthetic
from recommender.simulate.params import (
    DEFAULT_SOURCES,
    GRADE_BANDS,
    ROLES,
    SUBJECTS,
    SimulationParams,
    SourceModel,
)
from recommender.simulate.population import (
    CatalogArrays,
    EducatorPopulation,
    catalog_arrays,
    initial_population,
)
from recommender.simulate.scenarios import SCENARIOS, Scenario, resolve_scenarios, scenario_params

__all__ = [
    "DEFAULT_SOURCES",
    "GRADE_BANDS",
    "SCENARIOS",
    "ROLES",
    "SOURCES",
    "SUBJECTS",
    "CatalogArrays",
    "EducatorPopulation",
    "Scenario",
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
    "resolve_scenarios",
    "scenario_params",
    "source_scales",
    "true_mastery",
    "write_synthetic",
]
