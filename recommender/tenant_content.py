"""A tenant's content: the framework and catalog it is served, and how an upload is checked.

A tenant without uploads is served the deployment's default content (``PDREC_FRAMEWORK``,
``PDREC_CATALOG``: :func:`default_content`). An admin uploads a framework, a catalog, or both
(``PUT /v1/admin/framework``, ``PUT /v1/admin/catalog``, ``pdrec tenant framework|catalog``);
:func:`upload` checks the documents with the loaders every file goes through
(:func:`recommender.graph.build_framework`, :func:`recommender.catalog.build_catalog`: a
catalog against the framework it will be served with), reports what the change does to stored
evidence, and stores new versions (:mod:`recommender.store.content`).

**Retired competencies.** Evidence is never rewritten or deleted by a framework change. A
competency of the new framework may say which ids it replaces (``replaces: [OLD.ID]``, or an
upload's ``mapping: {OLD.ID: NEW.ID}``, written into the stored document as ``replaces``);
evidence on a replaced id counts for its successor when mastery is estimated
(:meth:`TenantContent.usable`). Evidence on an id the framework neither has nor maps stays in
the store untouched and is left out of estimates; the upload's report names each such id with
its record and educator counts.

:class:`TenantContent` is one resolved (framework version, catalog version) of a tenant: the
graph, the catalog and their identity (``tag``, ``info()``), built once and shared read-only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import yaml

from recommender.catalog import Catalog, build_catalog, default_catalog, load_catalog
from recommender.errors import CatalogError, FrameworkError, InvalidInputError
from recommender.graph import build_framework, default_framework, load_framework

__all__ = ["ContentError", "TenantContent", "UploadReport", "content_hash", "default_content",
           "framework_hash", "parse_document", "replacements", "resolve_content", "upload"]


class ContentError(InvalidInputError):
    """An uploaded document does not load: ``field`` names the document (``framework``,
    ``catalog``, ``mapping``), ``problems`` lists each problem in the loader's words."""

    def __init__(self, field: str, problems: list[str], expected: str):
        self.problems = problems
        super().__init__(field, problems[0] if len(problems) == 1 else problems, expected,
                         f"{field}: {'; '.join(problems)}")


def framework_hash(graph: nx.DiGraph) -> str:
    """A short hash of the framework's content: its attributes, competencies and edges (what
    model cards record, so a model and a tenant's framework can be compared)."""
    content = {
        "graph": graph.graph,
        "nodes": sorted((str(n), a) for n, a in graph.nodes(data=True)),
        "edges": sorted((str(u), str(v), a) for u, v, a in graph.edges(data=True)),
    }
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def content_hash(document: Mapping) -> str:
    """A short hash of a document's JSON form (keys sorted)."""
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_document(value: Any, field: str) -> dict[str, Any]:
    """An uploaded document as a plain JSON mapping: a mapping as is, or YAML/JSON text of one.
    Values JSON cannot hold (YAML dates) become text, so the stored form loads the same."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ContentError(field, [f"not YAML or JSON: {exc}"],
                               "a mapping, or YAML/JSON text of one") from None
    if not isinstance(value, Mapping):
        raise ContentError(field, [f"got {type(value).__name__}"],
                           "a mapping, or YAML/JSON text of one")
    return json.loads(json.dumps(value, default=str))


def replacements(graph: nx.DiGraph) -> dict[str, str]:
    """``{old id: new id}`` from the ``replaces`` of the framework's competencies (an id or a
    list); an id that is still a competency, or claimed twice, is a :class:`ContentError`."""
    out: dict[str, str] = {}
    problems = []
    for new, old in graph.nodes(data="replaces"):
        if old is not None and not isinstance(old, str | list):
            problems.append(f"{new}: replaces {old!r} is not an id or a list of ids")
            continue
        for o in [old] if isinstance(old, str) else (old or []):
            o = str(o)
            if o in graph:
                problems.append(f"{new}: replaces {o!r}, which is still a competency")
            elif out.setdefault(o, new) != new:
                problems.append(f"{new}: replaces {o!r}, already replaced by {out[o]!r}")
    if problems:
        raise ContentError("framework", problems, "each retired id replaced by one competency")
    return out


@dataclass(frozen=True, eq=False)
class TenantContent:
    """One tenant's framework and catalog at given versions (None: the default of that kind)."""

    graph: nx.DiGraph
    catalog: Catalog
    framework_version: int | None = None
    catalog_version: int | None = None
    framework_hash: str = ""
    catalog_hash: str | None = None
    replaced: Mapping[str, str] = field(default_factory=dict)

    @property
    def default(self) -> bool:
        """Both kinds are the deployment's default (served exactly as without tenants)."""
        return self.framework_version is None and self.catalog_version is None

    @property
    def tag(self) -> str:
        """Short identity of the versions (``f2c1``; ``f-c-`` for the default)."""
        fv, cv = self.framework_version, self.catalog_version
        return f"f{'-' if fv is None else fv}c{'-' if cv is None else cv}"

    @cached_property
    def activity_targets(self) -> dict[str, list[str]]:
        """``{activity_id: [competency ids]}`` of the catalog (xAPI statements name these)."""
        return {a: grp["competency_id"].tolist()
                for a, grp in self.catalog.targets.groupby("activity_id", sort=False)}

    @cached_property
    def _known(self) -> pd.Index:
        return pd.Index(list(self.graph), dtype=object)

    def usable(self, evidence: pd.DataFrame) -> pd.DataFrame:
        """The stored evidence the estimator reads under this framework: a replaced id counts
        for its successor, an id neither known nor replaced is left out (never deleted)."""
        if evidence.empty or "competency_id" not in evidence.columns:
            return evidence
        comp = evidence["competency_id"]
        if self.replaced:
            comp = comp.map(dict(self.replaced)).fillna(comp)
        keep = comp.isin(self._known).to_numpy()
        if keep.all() and not self.replaced:
            return evidence
        return evidence.assign(competency_id=comp)[keep].reset_index(drop=True)

    def info(self) -> dict:
        """What an answer was computed with (``api.schemas.ContentInfo``)."""
        g = self.graph.graph
        return {"framework": {"name": g.get("name"), "version": self.framework_version,
                              "hash": self.framework_hash,
                              "source": "default" if self.framework_version is None
                              else "tenant"},
                "catalog": {"version": self.catalog_version, "hash": self.catalog_hash,
                            "source": "default" if self.catalog_version is None else "tenant",
                            "activities": len(self.catalog)}}


def default_content(framework: str, catalog: Path | None) -> TenantContent:
    """The deployment's content: a shipped framework by name (``educator``, ``leader``) or a
    file, and a catalog file (None: the shipped catalog)."""
    graph = (default_framework(framework) if framework in ("educator", "leader")
             else load_framework(Path(framework)))
    cat = load_catalog(catalog, graph) if catalog is not None else default_catalog(graph)
    return TenantContent(graph, cat, framework_hash=framework_hash(graph))


_MALFORMED = (FrameworkError, CatalogError, TypeError, ValueError, KeyError, AttributeError)
"""What the loaders raise on a document of the wrong shape (a number where a list belongs):
reported as the document's problem, never a crash."""


def _framework(document: Mapping) -> nx.DiGraph:
    try:
        graph = build_framework(document)
        replacements(graph)
        return graph
    except ContentError:
        raise
    except _MALFORMED as exc:
        raise ContentError("framework", [str(exc)], "a framework that loads "
                           "(docs/frameworks.md)") from None


def _catalog(document: Mapping, graph: nx.DiGraph) -> Catalog:
    try:
        return build_catalog(document, graph)
    except _MALFORMED as exc:
        lines = [s.strip() for s in str(exc).splitlines()[1:]] or [str(exc)]
        raise ContentError("catalog", lines, f"a catalog whose activities load against "
                           f"framework {graph.graph.get('name')!r} (docs/frameworks.md)") from None


def resolve_content(store: Any, tenant_id: str, default: TenantContent,
                    active: Mapping[str, tuple[int, str]] | None = None) -> TenantContent:
    """The tenant's content at its active versions (``active``: as read by
    :meth:`~recommender.store.content.ContentStore.active_content`, read here when None)."""
    active = store.active_content(tenant_id) if active is None else active
    if not active:
        return default
    graph, replaced, fv = default.graph, {}, None
    if "framework" in active:
        stored = store.content_version(tenant_id, "framework", active["framework"][0])
        graph, fv = build_framework(stored.document), stored.version
        replaced = replacements(graph)
    cat, cv, ch = default.catalog, None, None
    if "catalog" in active:
        stored = store.content_version(tenant_id, "catalog", active["catalog"][0])
        cat, cv, ch = build_catalog(stored.document, graph), stored.version, stored.content_hash
    return TenantContent(graph, cat, framework_version=fv, catalog_version=cv,
                         framework_hash=framework_hash(graph), catalog_hash=ch,
                         replaced=replaced)


@dataclass(frozen=True)
class UploadReport:
    """What an upload stored and what it did: the new versions, the educators whose mastery is
    now stale, the framework's hash, and the evidence on ids the framework no longer has
    (``retired``: ``{competency_id, records, educators, mapped_to}``, ``mapped_to`` None: kept
    in the store, left out of estimates)."""

    versions: dict[str, int]
    stale_educators: int
    framework_hash: str
    retired: list[dict]


def _with_mapping(document: dict, mapping: Mapping | None, graph: nx.DiGraph) -> dict:
    """The framework document with an upload's ``{old: new}`` mapping written into the new
    competencies' ``replaces`` (so the stored version says it)."""
    if not mapping:
        return document
    if not isinstance(mapping, Mapping):
        raise ContentError("mapping", [f"got {type(mapping).__name__}"],
                           "a mapping of retired competency ids to new ones")
    bad = [f"{o!r} -> {n!r}: {n!r} is not a competency of the new framework"
           for o, n in mapping.items() if str(n) not in graph]
    if bad:
        raise ContentError("mapping", bad, "new ids that the uploaded framework has")
    adds: dict[str, list[str]] = {}
    for old, new in mapping.items():
        adds.setdefault(str(new), []).append(str(old))
    comps = []
    for c in document["competencies"]:
        extra = adds.get(str(c.get("id")))
        if extra:
            have = c.get("replaces")
            have = [have] if isinstance(have, str) else list(have or [])
            c = {**c, "replaces": have + [o for o in extra if o not in have]}
        comps.append(c)
    return {**document, "competencies": comps}


def upload(store: Any, tenant_id: str, current: TenantContent, *,
           framework: Any = None, catalog: Any = None, mapping: Mapping | None = None,
           by: str = "") -> UploadReport:
    """Check and store new versions of the tenant's framework and/or catalog.

    ``current`` is the content the tenant is served now. A framework is checked with the
    framework loader and its ``replaces``; the catalog served with it (the one uploaded with it,
    else the tenant's current one) must load against it. A catalog alone is checked against
    the tenant's current framework. Raises :class:`ContentError` (nothing stored) naming the
    document, each problem, and what was expected.
    """
    if framework is None and catalog is None:
        raise InvalidInputError("document", None, "a framework or a catalog document")
    graph, documents = current.graph, {}
    if framework is not None:
        doc = parse_document(framework, "framework")
        graph = _framework(doc)
        doc = _with_mapping(doc, mapping, graph)
        graph = _framework(doc)
        documents["framework"] = (doc, framework_hash(graph))
    if catalog is not None:
        doc = parse_document(catalog, "catalog")
        _catalog(doc, graph)
        documents["catalog"] = (doc, content_hash(doc))
    else:
        missing = sorted(set(current.catalog.targets["competency_id"]) - set(graph))
        if missing:
            which = ("the default catalog" if current.catalog_version is None
                     else f"catalog version {current.catalog_version}")
            raise ContentError("catalog", [f"{which} targets competencies the new framework "
                               f"does not have: {missing}"],
                               "a catalog uploaded with the framework (PUT /v1/admin/framework "
                               "with 'catalog', or pdrec tenant framework --catalog)")
    replaced = replacements(graph)
    counts = store.evidence_by_competency(tenant_id)
    retired = [{"competency_id": c, "records": n, "educators": e, "mapped_to": replaced.get(c)}
               for c, (n, e) in sorted(counts.items()) if c not in graph]
    versions, stale = store.put_content(tenant_id, documents, by=by)
    return UploadReport(versions=versions, stale_educators=stale,
                        framework_hash=framework_hash(graph), retired=retired)
