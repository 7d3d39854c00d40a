"""Every knob of the generative model: :class:`SimulationParams`, the evidence sources'
:class:`SourceModel` s, the profile categories, and the check that each knob is in its domain.

The model these parameters drive is documented in :mod:`recommender.simulate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from recommender.evidence import SOURCES

__all__ = [
    "DEFAULT_SOURCES",
    "GRADE_BANDS",
    "RATER_KINDS",
    "ROLES",
    "SUBJECTS",
    "SimulationParams",
    "SourceModel",
    "check_params",
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

RATER_KINDS = ("none", "evaluator", "peer", "self")
"""Who scores a source's readings (:attr:`SourceModel.rater`)."""


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


def default_subject_shares() -> dict[str, dict[str, float]]:
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
    """Every knob of the generative model, with its default (see :mod:`recommender.simulate`).

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
    learning_rate_mean : float, default=1.0
        Median of educators' learning rates (a multiplier of every gain; < 1: slower learners).
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
    subject_shares: dict[str, dict[str, float]] = field(default_factory=default_subject_shares)
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
    learning_rate_mean: float = 1.0
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


def check_params(params: SimulationParams) -> None:
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
        if m.share < 0 or m.noise_sd < 0 or m.extra_items < 0 or m.rater not in RATER_KINDS:
            raise bad("sources", f"SourceModels with share, noise_sd, extra_items >= 0 and rater "
                                 f"in {list(RATER_KINDS)} (source {name!r} is not)")
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
                "educators_per_rater", "max_items", "learning_rate_mean")
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

