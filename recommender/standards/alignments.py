"""Alignments to competencies: what an Open Badges ``alignment`` (or any target reference) names.

A badge says what it certifies by alignment objects (``targetName``, ``targetUrl``,
``targetFramework``, ``targetCode``, in 3.0 also ``targetType``). :class:`AlignmentIndex`
resolves one to competencies of a framework, trying in turn:

1. ``targetUrl`` in the tenant's IRI table (``PDREC_XAPI_IRI_MAP``, the same one xAPI uses);
2. a competency IRI: ``urn:pdrec:competency:<id>`` or a URL whose path ends
   ``/competencies/<id>`` (in ``targetUrl`` or ``targetCode``);
3. a CASE item: the last segment of ``targetUrl`` (or ``targetCode``) is the CASE identifier of
   a competency: its imported ``case_id``, or the identifier :func:`export_case` gives it;
4. a framework code through the crosswalk: ``targetCode`` ``danielson:3b``, or ``targetCode``
   ``3b`` with a ``targetFramework`` naming the scheme (its key, an alias or a word of its title
   such as "Danielson", "Framework for Teaching", "InTASC");
5. ``targetCode`` equal to a competency id or to a competency's ``code``.

What names nothing comes back with the reason; nothing here raises on a JSON value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlparse

import networkx as nx

from recommender.standards.case_elements import last_segment, text
from recommender.standards.case_export import export_case
from recommender.standards.crosswalk import Crosswalk, normalize_code

__all__ = ["AlignmentIndex", "competency_iri_id"]

_SCHEME_WORDS = {"danielson": ("danielson", "framework for teaching", "fft"),
                 "intasc": ("intasc", "model core teaching standards")}
"""Words in a ``targetFramework`` that name a scheme (besides its key, aliases and title)."""


def competency_iri_id(iri: str) -> str | None:
    """The id in ``urn:pdrec:competency:<id>`` or a URL whose path ends ``/competencies/<id>``."""
    prefix = "urn:pdrec:competency:"
    if iri.lower().startswith(prefix):
        return iri[len(prefix):] or None
    try:
        parts = urlparse(iri).path.rstrip("/").split("/")
    except ValueError:
        return None
    if len(parts) >= 2 and parts[-2] == "competencies":
        return unquote(parts[-1]) or None
    return None


class AlignmentIndex:
    """Resolves alignment objects to competencies of one framework (built once, read often)."""

    def __init__(self, graph: nx.DiGraph, crosswalk: Crosswalk | None = None,
                 iri_map: Mapping[str, str] | None = None):
        self.graph = graph
        self.crosswalk = crosswalk
        self.iri_map = {str(k): str(v) for k, v in (iri_map or {}).items()}
        self.codes = {str(c): n for n, c in graph.nodes(data="code") if c}
        self.case_ids: dict[str, str] = {}
        for item in export_case(graph)["CFItems"]:
            if item.get("CFItemType") == "Competency":
                code = item.get("humanCodingScheme")
                node = code if code in graph else self.codes.get(str(code))
                if node is None:  # an imported id: the competency whose case_id it is
                    node = next((n for n, c in graph.nodes(data="case_id")
                                 if c == item["identifier"]), None)
                if node is not None:
                    self.case_ids[item["identifier"].lower()] = node
        self.case_ids.update({str(c).lower(): n for n, c in graph.nodes(data="case_id") if c})

    def _scheme(self, framework: str) -> str | None:
        cw = self.crosswalk
        if cw is None or not framework:
            return None
        if (key := cw.scheme_key(framework)) is not None:
            return key
        low = framework.lower()
        for key, scheme in cw.schemes.items():
            words = (key, *scheme.aliases, scheme.title.lower(), *_SCHEME_WORDS.get(key, ()))
            if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words if w):
                return key
        return None

    def _by_code(self, scheme: str, code: str) -> tuple[list[str], str | None]:
        cw = self.crosswalk
        assert cw is not None
        s = cw.schemes[scheme]
        norm = normalize_code(code)
        if norm not in s.codes:
            return [], (f"{scheme}:{code} is not a code of {s.title}; expected one of "
                        f"{', '.join(s.codes)}")
        comps = cw.competencies_for(scheme, norm)
        if not comps:
            return [], (f"{scheme}:{norm} ({s.codes[norm]}) maps to no competency of framework "
                        f"{cw.framework!r}")
        return comps, None

    def resolve(self, alignment: Any) -> tuple[list[str], str | None]:
        """``(competencies, None)`` or ``([], reason)`` for one alignment object."""
        if not isinstance(alignment, Mapping):
            return [], f"an alignment must be an object, got {type(alignment).__name__}"
        url, code = text(alignment.get("targetUrl")), text(alignment.get("targetCode"))
        framework = text(alignment.get("targetFramework"))
        name = text(alignment.get("targetName")) or url or code or "(unnamed)"
        if url and url in self.iri_map:
            comp = self.iri_map[url]
            return ([comp], None) if comp in self.graph else (
                [], f"targetUrl {url!r} is mapped to {comp!r}, not a competency")
        for ref in (url, code):
            if ref and (cid := competency_iri_id(ref)) is not None:
                return ([cid], None) if cid in self.graph else (
                    [], f"{ref!r} names competency {cid!r}, which the framework does not have")
        for ref in (url, code):
            if ref and (node := self.case_ids.get(last_segment(ref).lower())) is not None:
                return [node], None
        if code and self.crosswalk is not None:
            m = re.match(r"^\s*([A-Za-z][\w\-]*)\s*:\s*(.+?)\s*$", code)
            key = self.crosswalk.scheme_key(m.group(1)) if m else None
            if key is not None:
                return self._by_code(key, m.group(2))
            if (key := self._scheme(framework)) is not None:
                return self._by_code(key, code)
        if code in self.graph:
            return [code], None
        if code in self.codes:
            return [self.codes[code]], None
        return [], (f"alignment {name!r} maps to no competency: not a competency IRI, CASE "
                    f"item, framework code or competency id of framework "
                    f"{self.graph.graph.get('name')!r}"
                    + (f" (targetFramework {framework!r}, targetCode {code!r})"
                       if framework or code else ""))
