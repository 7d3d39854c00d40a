"""What a CASE import did with each element of the package: its role, or why it was skipped.

The report accounts for every input element, so nothing is dropped silently: each ``CFItems``
entry has a role (``competency``, ``domain``, ``level`` or ``skipped``) and so has each
``CFAssociations`` entry (``hierarchy``, ``prerequisite``, ``level`` or ``skipped``); every
``skipped`` one has a :class:`Skipped` record with its identifier, a fixed reason (the key the
CLI counts by) and a detail naming the values involved. Package-level problems (not an object,
no ``CFDocument``, ``CFItems`` not a list) are :class:`Skipped` records with ``index=None``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Skipped", "ImportReport", "CaseImport", "REASONS"]

REASONS = {
    "not an object": "the element is not a JSON object",
    "no identifier": "neither `identifier` nor `uri` names the element",
    "duplicate identifier": "an earlier element has the same identifier; the first one is kept",
    "no statement": "the item has no fullStatement, abbreviatedStatement or humanCodingScheme",
    "unknown association type": "associationType is not one of the nine CASE 1.0 types",
    "association type not mapped": "the type has no role unless mapped (--map TYPE=ROLE)",
    "points outside the package": "origin or destination is not an item of this package",
    "points to a skipped item": "origin or destination is an item that was itself skipped",
    "wrong endpoint": "the endpoint is not the kind of element this association type needs",
    "self loop": "origin and destination are the same item",
    "duplicate association": "an earlier association links the same items the same way",
    "second parent": "the item already has an isChildOf parent; one parent gives one domain",
    "isChildOf cycle": "the hierarchy loops; the looping associations are dropped",
    "precedes cycle": "the prerequisite relation loops; every edge of the loop is dropped",
    "level not recognised": "a hasSkillLevel item names none of the framework's levels",
    "duplicate level": "the competency already has a descriptor for this level",
    "unused level descriptor": "a level item whose every hasSkillLevel association was skipped",
    "package": "the package as a whole does not have the expected structure",
}
"""Every reason a :class:`Skipped` record can carry, with what it means (docs/standards.md)."""


@dataclass(frozen=True)
class Skipped:
    """One element left out: where it was, its identifier, why (a :data:`REASONS` key), details."""

    element: str
    index: int | None
    identifier: str
    reason: str
    detail: str = ""


@dataclass
class ImportReport:
    """The fate of every element of one package (see the module docstring)."""

    item_roles: list[str] = field(default_factory=list)
    association_roles: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, element: str, index: int | None, identifier: str, reason: str,
             detail: str = "") -> None:
        """Record a skipped element and mark its role ``skipped``."""
        if reason not in REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; expected one of {sorted(REASONS)}")
        self.skipped.append(Skipped(element, index, identifier, reason, detail))
        roles = {"CFItem": self.item_roles, "CFAssociation": self.association_roles}.get(element)
        if roles is not None and index is not None:
            roles[index] = "skipped"

    def counts_by_reason(self) -> dict[str, int]:
        """How many elements were skipped for each reason, most frequent first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def summary(self) -> dict[str, int]:
        """Counts of items and associations per role (``items.competency``, ...)."""
        counts = Counter(f"items.{r}" for r in self.item_roles)
        counts.update(f"associations.{r}" for r in self.association_roles)
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: summary, counts per reason and every skipped element."""
        return {
            "summary": self.summary(),
            "skipped_by_reason": self.counts_by_reason(),
            "skipped": [asdict(s) for s in self.skipped],
        }


@dataclass
class CaseImport:
    """The imported framework mapping (``None`` when nothing could be imported) and its report."""

    framework: dict[str, Any] | None
    report: ImportReport
