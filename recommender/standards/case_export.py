"""Export a competency framework as a 1EdTech CASE 1.0 CFPackage, and validate a package.

The inverse of :mod:`recommender.standards.case`, so that import -> export -> import keeps every
competency, prerequisite and code:

- each domain becomes a ``CFItem`` of ``CFItemType`` ``Domain``, child of the document;
- each competency a ``CFItem`` (``humanCodingScheme`` its ``code``, or its id when the id would
  not come back from the identifier; ``abbreviatedStatement`` its name; ``fullStatement`` its
  description), child (``isChildOf``) of its ``parent`` competency or else of its domain item;
- each prerequisite edge ``u -> v`` a ``precedes`` association from ``u`` to ``v``;
- each level descriptor a ``CFItem`` of type ``Skill Level`` linked by ``hasSkillLevel``.

Identifiers are the imported ``case_id`` when it is a UUID, else UUID5s derived from the
document and the competency id, so exporting the same framework twice gives the same package.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from recommender.graph.framework import LEVELS

__all__ = ["DEFAULT_BASE_URI", "export_case", "validate_package"]

DEFAULT_BASE_URI = "https://pdrec.example/ims/case/v1p0"
"""Where exported URIs point unless told otherwise (set your publisher's CASE endpoint)."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAMESPACE = uuid.UUID("6f1c1d2e-3b0a-4c52-9d7e-5a8f0e4b2c11")


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


class _Writer:
    """Builds one package: URIs, LinkURIs and the three lists."""

    def __init__(self, graph: nx.DiGraph, document: Mapping[str, Any], base_uri: str,
                 changed: str):
        self.graph = graph
        self.base = base_uri.rstrip("/")
        self.changed = changed
        name = str(graph.graph.get("name") or "framework")
        given = document.get("identifier")
        self.doc_id = given if _is_uuid(given) else str(uuid.uuid5(_NAMESPACE, f"pdrec:{name}"))
        self.title = str(document.get("title") or graph.graph.get("title") or name)
        self.doc_link = self.link(self.title, self.doc_id, "CFDocuments")
        self.items: list[dict[str, Any]] = []
        self.assocs: list[dict[str, Any]] = []

    def derived(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(uuid.UUID(self.doc_id), f"{kind}:{key}"))

    def link(self, title: str, identifier: str, collection: str) -> dict[str, str]:
        return {"title": title, "identifier": identifier,
                "uri": f"{self.base}/{collection}/{identifier}"}

    def item(self, identifier: str, full: str, **fields: Any) -> dict[str, str]:
        """Append a CFItem; return its LinkURI."""
        body = {"identifier": identifier, "uri": f"{self.base}/CFItems/{identifier}",
                "lastChangeDateTime": self.changed, "CFDocumentURI": self.doc_link,
                "fullStatement": full or fields.get("abbreviatedStatement", "") or identifier}
        body.update({k: v for k, v in fields.items() if v not in (None, "")})
        self.items.append(body)
        title = fields.get("humanCodingScheme") or fields.get("abbreviatedStatement") or full
        return self.link(str(title), identifier, "CFItems")

    def associate(self, origin: dict, atype: str, dest: dict, seq: int | None = None) -> None:
        ident = self.derived("association", f"{origin['identifier']}:{atype}:{dest['identifier']}")
        body = {"identifier": ident, "uri": f"{self.base}/CFAssociations/{ident}",
                "lastChangeDateTime": self.changed, "CFDocumentURI": self.doc_link,
                "associationType": atype, "originNodeURI": origin, "destinationNodeURI": dest}
        if seq is not None:
            body["sequenceNumber"] = seq
        self.assocs.append(body)


def _competency_ids(writer: _Writer, graph: nx.DiGraph) -> dict[str, str]:
    """The identifier of every competency: its imported UUID if unique, else a derived one."""
    given = {n: a.get("case_id") for n, a in graph.nodes(data=True)}
    counts: dict[str, int] = {}
    for value in given.values():
        counts[value] = counts.get(value, 0) + 1
    return {n: v if _is_uuid(v) and counts[v] == 1 else writer.derived("competency", n)
            for n, v in given.items()}


def export_case(graph: nx.DiGraph, *, document: Mapping[str, Any] | None = None,
                base_uri: str = DEFAULT_BASE_URI, changed_at: datetime | None = None
                ) -> dict[str, Any]:
    """A CASE 1.0 CFPackage (a JSON-ready dict) for a framework graph.

    ``document`` may carry the ``source`` block of an imported framework (``identifier``,
    ``title``, ``creator``, ...) so the package keeps the original document identity.
    """
    document = dict(document or {})
    changed = (changed_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    w = _Writer(graph, document, base_uri, changed)
    domains = {}
    for domain in sorted({str(d) for _, d in graph.nodes(data="domain")}):
        domains[domain] = w.item(w.derived("domain", domain), domain, CFItemType="Domain",
                                 abbreviatedStatement=domain)
        w.associate(domains[domain], "isChildOf", w.doc_link)
    ids = _competency_ids(w, graph)
    links = {}
    for node, attrs in graph.nodes(data=True):
        code = attrs.get("code") or (node if ids[node] != node else None)
        links[node] = w.item(ids[node], str(attrs.get("description") or ""),
                             humanCodingScheme=code, CFItemType="Competency",
                             abbreviatedStatement=str(attrs.get("name") or node))
    for node, attrs in graph.nodes(data=True):
        parent = attrs.get("parent")
        up = links[parent] if parent in links and parent != node else domains[str(attrs["domain"])]
        seq = attrs.get("sequence")
        w.associate(links[node], "isChildOf", up, seq if isinstance(seq, int) else None)
        levels = attrs.get("levels") or {}
        for position, level in enumerate(LEVELS, start=1):
            if levels.get(level):
                link = w.item(w.derived("level", f"{node}:{level}"), str(levels[level]),
                              CFItemType="Skill Level", abbreviatedStatement=level,
                              listEnumeration=str(position))
                w.associate(links[node], "hasSkillLevel", link, position)
    for u, v in graph.edges:
        w.associate(links[u], "precedes", links[v])
    doc = {"identifier": w.doc_id, "uri": w.doc_link["uri"],
           "creator": str(document.get("creator") or "pdrec"), "title": w.title,
           "lastChangeDateTime": changed,
           "CFPackageURI": w.link(w.title, w.doc_id, "CFPackages")}
    description = document.get("description") or graph.graph.get("description")
    if description:
        doc["description"] = str(description)
    for key in ("version", "adoptionStatus"):
        if document.get(key):
            doc[key] = str(document[key])
    return {"CFDocument": doc, "CFItems": w.items, "CFAssociations": w.assocs,
            "CFDefinitions": {"CFConcepts": [], "CFSubjects": [], "CFLicenses": [],
                              "CFItemTypes": [], "CFAssociationGroupings": []}}


def validate_package(package: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every violation of ``schema`` (the CASE 1.0 CFPackage JSON Schema, draft 4) in ``package``,
    as ``path: message`` lines; an empty list when the package is valid."""
    import jsonschema

    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
