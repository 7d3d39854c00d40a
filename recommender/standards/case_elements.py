"""The pieces of a CASE 1.0 package the importer reads, read tolerantly.

Real packages put numbers where strings belong, URIs where LinkURI objects belong, and
references by URI or by identifier; these readers turn any JSON value into text, an integer or
lookup keys without raising, and hold the two records the importer works on (:class:`Item`,
:class:`Assoc`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recommender.graph.framework import LEVELS

__all__ = ["ASSOCIATION_TYPES", "ROLES", "DEFAULT_ROLES", "DOMAIN_TYPES", "DOC", "NAME_MAX",
           "LEVEL_LINE", "text", "as_int", "slug", "last_segment", "ref_keys", "Item", "Assoc",
           "item_name", "level_name"]

ASSOCIATION_TYPES = ("isChildOf", "isPeerOf", "isPartOf", "exactMatchOf", "precedes",
                     "isRelatedTo", "replacedBy", "exemplar", "hasSkillLevel")
"""The nine CASE 1.0 association types."""

ROLES = ("hierarchy", "prerequisite", "prerequisite-reversed", "level", "skip")
"""What an association type can be mapped to."""

DEFAULT_ROLES = {"isChildOf": "hierarchy", "precedes": "prerequisite", "hasSkillLevel": "level"}
DOMAIN_TYPES = ("domain",)
"""``CFItemType`` values (lower case) that make an item a domain rather than a competency."""

NAME_MAX = 120
DOC = "document"
LEVEL_LINE = re.compile(rf"^\s*({'|'.join(LEVELS)})\s*[:\-\u2013\u2014]\s*(.+?)\s*$",
                         re.IGNORECASE | re.MULTILINE)


def text(value: Any) -> str:
    """A JSON scalar as stripped text (numbers too: they often come where strings belong)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def as_int(value: Any) -> int | None:
    """An integer given as a number or as a string of digits; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    digits = text(value)
    return int(digits) if re.fullmatch(r"[+-]?\d{1,18}", digits) else None


def slug(code: str) -> str:
    """A competency id from a code: runs of characters other than word, ``.`` and ``-`` -> ``_``."""
    return re.sub(r"[^\w.\-]+", "_", code.strip()).strip("_")


def last_segment(value: str) -> str:
    """The last path segment of a URI (CASE URIs end in the identifier)."""
    return value.rstrip("/").rsplit("/", 1)[-1]


def ref_keys(ref: Any) -> list[str]:
    """Lookup keys of a node reference: a LinkURI object or a plain identifier/URI string."""
    if isinstance(ref, Mapping):
        keys = [text(ref.get("identifier")), text(ref.get("uri"))]
    else:
        keys = [text(ref)]
    keys += [last_segment(k) for k in keys]
    return [k for k in keys if k]


@dataclass
class Item:
    """A CFItem as the importer needs it: position, identifier, texts, type, labels."""

    pos: int
    ident: str
    full: str
    abbr: str
    code: str
    kind: str
    notes: str
    labels: tuple[str, ...]


@dataclass
class Assoc:
    """A CFAssociation with both ends resolved (item position or ``DOC``) and its role."""

    pos: int
    ident: str
    atype: str
    role: str
    origin: int | str
    dest: int | str
    seq: int | None


def item_name(item: Item) -> str:
    """A competency name: the abbreviated statement, else the statement's first line (cut)."""
    if item.abbr:
        return item.abbr
    first = item.full.splitlines()[0].strip() if item.full else item.code
    if len(first) <= NAME_MAX:
        return first
    return first[: NAME_MAX - 1].rsplit(" ", 1)[0] + "\u2026"


def level_name(item: Item) -> str | None:
    """Which of :data:`LEVELS` a level item names, if any."""
    for label in item.labels:
        if label.lower() in LEVELS:
            return label.lower()
    return None
