"""Bodies of the evidence-firewall endpoints: the tenant's evidence policy and an educator's
consent (docs/firewall.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recommender.evidence.contract import SOURCES
from recommender.firewall import READERS

__all__ = ["ConsentIn", "ConsentOut", "ConsentSourceOut", "EvidencePolicyIn",
           "EvidencePolicyOut", "SourceRuleIn", "SourceRuleOut"]

Source = Literal[SOURCES]
"""An evidence source (:data:`recommender.evidence.contract.SOURCES`)."""

PolicyReader = Literal[READERS]
"""A role a policy grants reading to (:data:`recommender.firewall.READERS`)."""


class SourceRuleIn(BaseModel):
    """What the policy says of one source (a field left out: the default)."""

    model_config = ConfigDict(extra="forbid")

    feeds_decisions: bool = Field(True, strict=True,
                                  description="Whether its records may feed mastery and "
                                              "everything computed from it")
    readers: list[PolicyReader] = Field(default_factory=lambda: list(READERS), max_length=16,
                                        description="The roles that may read its records")


class EvidencePolicyIn(BaseModel):
    """A new version of the tenant's evidence policy; sources not named keep the default
    (feed decisions, read by every role)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sources": {"self_assessment": {"feeds_decisions": False,
                                         "readers": ["admin", "coach", "educator"]}}}]})

    sources: dict[Source, SourceRuleIn] = Field(
        description="Per evidence source: `feeds_decisions` (default true) and `readers` "
                    "(subset of admin, coach, educator; default all)")


class SourceRuleOut(BaseModel):
    feeds_decisions: bool
    readers: list[str]


class EvidencePolicyOut(BaseModel):
    """The policy in force, every source spelled out."""

    version: int = Field(description="1, 2, ...: each PUT stores a new version; 0: the default "
                                     "policy (none stored)")
    sources: dict[str, SourceRuleOut]
    uploaded_by: str | None
    uploaded_at: datetime | None


class ConsentIn(BaseModel):
    """The educator's full list of withdrawn sources (an empty list restores every one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"withdrawn": ["self_assessment"]}]})

    withdrawn: list[Source] = Field(max_length=64, description="Evidence sources")


class ConsentSourceOut(BaseModel):
    source: str
    withdrawn: bool
    changed_at: datetime | None = Field(description="The latest change (null: never changed)")
    by: str | None = Field(description="The key id that made the latest change")


class ConsentOut(BaseModel):
    educator_id: str
    sources: list[ConsentSourceOut]
    policy_version: int
    changed: list[str] = Field(default_factory=list,
                               description="On PUT: the sources whose setting changed")
