"""Request and response bodies (pydantic), with the examples shown in the OpenAPI document.

One module per resource, re-exported here (import from ``api.schemas``):

- :mod:`api.schemas.common`: string types held to the field contract, ``ModelInfo``, errors
- :mod:`api.schemas.evidence`: evidence records and xAPI statements in, outcomes out
- :mod:`api.schemas.educators`: profile and goals, mastery
- :mod:`api.schemas.recommendations`: recommendations, explanations, batch, pathways
- :mod:`api.schemas.feedback`: feedback events
- :mod:`api.schemas.history`: the educator list, evidence and feedback history
- :mod:`api.schemas.admin`: health, readiness, model reload, raters, API keys
"""

from __future__ import annotations

from api.schemas.admin import (
    HealthOut,
    KeyIn,
    KeyOut,
    RaterSeverity,
    RatersOut,
    ReadyOut,
    ReloadOut,
)
from api.schemas.common import (
    AddressableId,
    ErrorBody,
    ErrorDetail,
    ErrorResponse,
    Format,
    Label,
    ModelCard,
    ModelInfo,
    Note,
    ProfileText,
    ReferenceId,
    TimeText,
    held_to,
    whole_number,
)
from api.schemas.educators import (
    EducatorIn,
    EducatorOut,
    MasteryItem,
    MasteryOut,
    Profile,
)
from api.schemas.evidence import (
    EvidenceBatchIn,
    EvidenceBatchOut,
    EvidenceOutcome,
    EvidenceRecordIn,
    Outcome,
    XapiBatchIn,
    XapiBatchOut,
    XapiOutcome,
)
from api.schemas.feedback import (
    FeedbackEvent,
    FeedbackEventIn,
    FeedbackIn,
    FeedbackOut,
)
from api.schemas.history import (
    EducatorEvidenceOut,
    EducatorFeedbackOut,
    EducatorGlance,
    EducatorListOut,
    EvidenceItemOut,
    FeedbackEventOut,
    FeedbackState,
    GoalGlance,
    Progress,
)
from api.schemas.recommendations import (
    BatchRecommendationsIn,
    BatchRecommendationsOut,
    BatchResult,
    CitedEvidence,
    Contribution,
    Explanation,
    PathwayOut,
    PathwayStepOut,
    PrerequisiteMastery,
    RecommendationItem,
    RecommendationsOut,
    ScoreParts,
    TargetExplanation,
)

__all__ = [
    "Format",
    "held_to",
    "AddressableId",
    "ReferenceId",
    "ProfileText",
    "Note",
    "Label",
    "TimeText",
    "ModelCard",
    "ModelInfo",
    "ErrorDetail",
    "ErrorBody",
    "ErrorResponse",
    "EvidenceRecordIn",
    "EvidenceBatchIn",
    "Outcome",
    "EvidenceOutcome",
    "EvidenceBatchOut",
    "XapiBatchIn",
    "XapiOutcome",
    "XapiBatchOut",
    "Profile",
    "EducatorIn",
    "EducatorOut",
    "MasteryItem",
    "MasteryOut",
    "CitedEvidence",
    "Contribution",
    "TargetExplanation",
    "PrerequisiteMastery",
    "ScoreParts",
    "Explanation",
    "RecommendationItem",
    "RecommendationsOut",
    "BatchRecommendationsIn",
    "BatchResult",
    "BatchRecommendationsOut",
    "PathwayStepOut",
    "PathwayOut",
    "FeedbackEvent",
    "FeedbackEventIn",
    "FeedbackIn",
    "FeedbackOut",
    "HealthOut",
    "ReadyOut",
    "ReloadOut",
    "RaterSeverity",
    "RatersOut",
    "KeyIn",
    "KeyOut",
    "GoalGlance",
    "Progress",
    "EducatorGlance",
    "EducatorListOut",
    "EvidenceItemOut",
    "EducatorEvidenceOut",
    "FeedbackEventOut",
    "FeedbackState",
    "EducatorFeedbackOut",
    "whole_number",
]
