"""The words a catalog may use for an activity's ``format``, ``modality`` and ``level``.

The shipped catalog uses the defaults (:data:`FORMATS` named by the seed texts,
:data:`MODALITIES`, and the framework's :data:`~recommender.graph.framework.LEVELS`); a
district's catalog has its own, and declares them in a ``vocabularies`` block::

    vocabularies:
      formats: [workshop, coaching_cycle, book_study]
      modalities: [online, in_person]     # omitted: the default modalities
      levels: [intro, core, advanced]
    activities: [...]

Each list is non-empty, of distinct non-empty strings; a key left out keeps its default, an
unknown key is an error. :func:`recommender.catalog.build_catalog` checks every activity's value
against the vocabulary in effect (:attr:`recommender.catalog.Catalog.vocabularies`), and request
filters are checked against it too (:meth:`Vocabularies.check`, and
:meth:`recommender.catalog.Catalog.matching`, which turns filters into the set of activities an
:class:`~recommender.ranking.EducatorContext` takes as ``available``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from recommender.errors import CatalogError, InvalidInputError
from recommender.graph.framework import LEVELS

__all__ = ["DEFAULT_VOCABULARIES", "FORMATS", "MODALITIES", "Vocabularies"]

FORMATS = (
    "course",
    "micro_credential",
    "coaching_cycle",
    "plc_cycle",
    "peer_observation",
    "lesson_study",
    "residency",
    "video_reflection",
)
"""Activity formats named by the seed texts (the default format vocabulary)."""

MODALITIES = ("online", "in_person", "job_embedded", "blended")
"""The default modality vocabulary."""

_FIELDS = {"formats": "format", "modalities": "modality", "levels": "level"}
_MAX_WORDS = 200
_MAX_LENGTH = 64


@dataclass(frozen=True)
class Vocabularies:
    """The allowed values of a catalog's ``format``, ``modality`` and ``level``, in order.

    Parameters
    ----------
    formats, modalities, levels : tuple of str
        Defaults: :data:`FORMATS`, :data:`MODALITIES`,
        :data:`~recommender.graph.framework.LEVELS`.
    """

    formats: tuple[str, ...] = FORMATS
    modalities: tuple[str, ...] = MODALITIES
    levels: tuple[str, ...] = LEVELS

    @classmethod
    def from_mapping(cls, data: Any) -> Vocabularies:
        """Read a catalog's ``vocabularies`` block (None: the defaults).

        Raises
        ------
        CatalogError
            Naming each bad key or list: an unknown key, a list that is empty, not a list of
            strings, or holds a repeated or over-long word.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise CatalogError(f"catalog: vocabularies {data!r} must be a mapping of "
                               f"{list(_FIELDS)} to lists of words")
        problems = [f"vocabularies: unknown key {k!r}; expected some of {list(_FIELDS)}"
                    for k in data if k not in _FIELDS]
        words: dict[str, tuple[str, ...]] = {}
        for key in _FIELDS:
            if key in data:
                value, problem = _words(key, data[key])
                if problem:
                    problems.append(problem)
                words[key] = value
        if problems:
            raise CatalogError(f"catalog has {len(problems)} problem(s):\n  "
                               + "\n  ".join(problems))
        return cls(**words)

    def allowed(self, field: str) -> tuple[str, ...]:
        """The vocabulary of an activity field: ``format``, ``modality`` or ``level``."""
        for key, name in _FIELDS.items():
            if field in (key, name):
                return getattr(self, key)
        raise KeyError(f"no vocabulary for {field!r}; expected one of {list(_FIELDS.values())}")

    def check(self, name: str, values: Iterable[str] | str | None) -> tuple[str, ...] | None:
        """A request filter ``name`` (``formats``, ``modalities`` or ``levels``) checked against
        this vocabulary: the distinct values in order, or None for no filter (None or empty).

        Raises
        ------
        InvalidInputError
            Naming ``name[i]`` of the first value outside the vocabulary, the value and the
            allowed values.
        """
        if values is None:
            return None
        items = [values] if isinstance(values, str) else list(values)
        allowed = self.allowed(name)
        for i, v in enumerate(items):
            if v not in allowed:
                raise InvalidInputError(f"{name}[{i}]", v, f"one of {list(allowed)}")
        return tuple(dict.fromkeys(items)) or None

    def to_dict(self) -> dict[str, list[str]]:
        """``{formats: [...], modalities: [...], levels: [...]}`` (the API's shape)."""
        return {key: list(getattr(self, key)) for key in _FIELDS}


def _words(key: str, value: Any) -> tuple[tuple[str, ...], str | None]:
    """``value`` as a tuple of words, and what is wrong with it (None when nothing is)."""
    expected = (f"a non-empty list of at most {_MAX_WORDS} distinct words of 1 to "
                f"{_MAX_LENGTH} characters")
    if not isinstance(value, list | tuple) or not 0 < len(value) <= _MAX_WORDS:
        return (), f"vocabularies: {key} {value!r} must be {expected}"
    bad = [v for v in value if not isinstance(v, str) or not 0 < len(v.strip()) <= _MAX_LENGTH
           or v != v.strip()]
    if bad:
        return (), f"vocabularies: {key} has {bad!r}, not words; it must be {expected}"
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        return (), f"vocabularies: {key} repeats {repeated}; it must be {expected}"
    return tuple(value), None


DEFAULT_VOCABULARIES = Vocabularies()
"""The vocabularies of a catalog without a ``vocabularies`` block."""
