"""Import a 1EdTech CASE 1.0 CFPackage as a competency framework, reporting what was skipped.

Mapping (docs/standards.md has the full table):

- each ``CFItem`` becomes a competency: ``id`` is the slug of its ``humanCodingScheme`` (kept as
  ``code``) or, without one or when two items share it, its ``identifier`` (kept as ``case_id``);
  ``name`` its ``abbreviatedStatement`` (else the first line of ``fullStatement``),
  ``description`` its ``fullStatement``;
- ``isChildOf`` is the hierarchy: a competency's ``domain`` is its nearest ancestor whose
  ``CFItemType`` is ``Domain`` (such items are domains, not competencies), else its topmost
  ancestor (a root item is its own domain); the parent competency is kept as ``parent``;
- ``precedes`` (origin before destination) becomes a prerequisite edge origin -> destination;
  other association types take a role only through ``association_map`` (``hierarchy``,
  ``prerequisite``, ``prerequisite-reversed``, ``level`` or ``skip``);
- ``hasSkillLevel`` (competency -> level item) gives level descriptors, named by the level
  item's label (``beginning`` ... ``advanced``) or, for exactly four unnamed ones, by their
  ``sequenceNumber`` order; without them, ``notes`` lines such as ``Proficient: ...`` do.

Untidy input is expected: URIs as plain strings, numbers as strings, references by URI or by
identifier, associations pointing outside the package, duplicate identifiers, cycles. What can
be imported is; every other element is reported (:mod:`recommender.standards.case_report`).
Nothing here raises on a JSON value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from recommender.graph.framework import DEFAULT_SCALE, LEVELS
from recommender.standards.case_elements import (
    ASSOCIATION_TYPES,
    DEFAULT_ROLES,
    DOC,
    DOMAIN_TYPES,
    LEVEL_LINE,
    ROLES,
    Assoc,
    Item,
    as_int,
    item_name,
    last_segment,
    level_name,
    ref_keys,
    slug,
    text,
)
from recommender.standards.case_report import CaseImport, ImportReport

__all__ = ["ASSOCIATION_TYPES", "ROLES", "DOMAIN_TYPES", "import_case", "read_case", "slug"]


class _Importer:
    """One import: reads the package, resolves references, classifies, assembles."""

    def __init__(self, package: Any, association_map: Mapping[str, str] | None,
                 domain_types: tuple[str, ...]):
        self.package = package
        self.roles = {**DEFAULT_ROLES, **dict(association_map or {})}
        self.domain_types = tuple(t.lower() for t in domain_types)
        self.report = ImportReport()
        self.items: dict[int, Item] = {}
        self.by_key: dict[str, int] = {}
        self.rejected: set[str] = set()
        self.doc_keys: set[str] = set()
        self.assocs: list[Assoc] = []
        self.ids: dict[int, str] = {}

    # ------------------------------------------------------------------ reading
    def _list(self, key: str) -> list:
        value = self.package.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.report.skip("package", None, key, "package",
                             f"{key} must be a list, got {type(value).__name__}")
            return []
        return value

    def read_document(self) -> dict[str, Any]:
        """The document's identity (kept under ``source``); its keys resolve ``isChildOf`` roots."""
        doc = self.package.get("CFDocument")
        if not isinstance(doc, Mapping):
            self.report.skip("CFDocument", None, "", "package",
                             "CFDocument is missing or not an object; items are still imported")
            return {}
        info = {k: text(doc.get(k)) for k in ("identifier", "uri", "title", "creator",
                                              "description", "version", "adoptionStatus")}
        self.doc_keys = {k for k in (info["identifier"], info["uri"]) if k}
        self.doc_keys |= {last_segment(k) for k in self.doc_keys}
        return {k: v for k, v in info.items() if v}

    def read_items(self) -> None:
        """Keep each readable, uniquely identified item with some statement; report the rest."""
        raw = self._list("CFItems")
        self.report.item_roles = ["competency"] * len(raw)
        for pos, item in enumerate(raw):
            if not isinstance(item, Mapping):
                self.report.skip("CFItem", pos, "", "not an object", f"got {type(item).__name__}")
                continue
            uri = text(item.get("uri"))
            ident = text(item.get("identifier")) or last_segment(uri)
            if not ident:
                self.report.skip("CFItem", pos, "", "no identifier")
                continue
            if ident in self.by_key:  # the first item with an identifier wins
                first = self.by_key[ident]
                self.report.skip("CFItem", pos, ident, "duplicate identifier",
                                 f"first at CFItems[{first}]")
                continue
            texts = {k: text(item.get(k)) for k in ("fullStatement", "abbreviatedStatement",
                                                    "humanCodingScheme", "notes")}
            if not any((texts["fullStatement"], texts["abbreviatedStatement"],
                        texts["humanCodingScheme"])):
                self.report.skip("CFItem", pos, ident, "no statement")
                self.rejected |= {ident, uri}
                continue
            kind = text(item.get("CFItemType"))
            kind_ref = item.get("CFItemTypeURI")
            if not kind and isinstance(kind_ref, Mapping):
                kind = text(kind_ref.get("title"))
            labels = tuple(text(item.get(k)) for k in ("abbreviatedStatement",
                                                       "alternativeLabel", "listEnumeration"))
            code = texts["humanCodingScheme"]
            labels += (code.rsplit(".", 1)[-1], texts["fullStatement"])
            self.items[pos] = Item(pos, ident, texts["fullStatement"],
                                   texts["abbreviatedStatement"], code, kind.lower(),
                                   texts["notes"], tuple(x for x in labels if x))
            for key in (ident, uri):
                if key:
                    self.by_key.setdefault(key, pos)

    def _resolve(self, ref: Any) -> tuple[int | str | None, str]:
        """The item position (or ``DOC``) a reference names, else ``None`` and the reason."""
        keys = ref_keys(ref)
        for key in keys:
            if key in self.by_key:
                return self.by_key[key], ""
            if key in self.doc_keys:
                return DOC, ""
        if any(k in self.rejected for k in keys):
            return None, "points to a skipped item"
        return None, "points outside the package"

    def read_associations(self) -> None:
        """Keep each association of a known, mapped type whose two ends resolve; report the rest."""
        raw = self._list("CFAssociations")
        self.report.association_roles = ["pending"] * len(raw)
        seen: dict[str, int] = {}
        canonical = {t.lower(): t for t in ASSOCIATION_TYPES}
        for pos, assoc in enumerate(raw):
            if not isinstance(assoc, Mapping):
                self.report.skip("CFAssociation", pos, "", "not an object",
                                 f"got {type(assoc).__name__}")
                continue
            ident = (text(assoc.get("identifier")) or last_segment(text(assoc.get("uri")))
                     or f"CFAssociations[{pos}]")
            if ident in seen:
                self.report.skip("CFAssociation", pos, ident, "duplicate identifier",
                                 f"first at CFAssociations[{seen[ident]}]")
                continue
            seen[ident] = pos
            given = text(assoc.get("associationType"))
            atype = canonical.get(given.lower())
            if atype is None:
                self.report.skip("CFAssociation", pos, ident, "unknown association type",
                                 f"associationType {given!r}; expected one of "
                                 f"{list(ASSOCIATION_TYPES)}")
                continue
            role = self.roles.get(atype)
            if role is None or role == "skip":
                self.report.skip("CFAssociation", pos, ident, "association type not mapped",
                                 f"{atype} has no role (roles: {list(ROLES)})")
                continue
            ends = {}
            for side in ("originNodeURI", "destinationNodeURI"):
                ends[side], why = self._resolve(assoc.get(side))
                if ends[side] is None:
                    self.report.skip("CFAssociation", pos, ident, why,
                                     f"{side} {ref_keys(assoc.get(side))[:1] or ['(none)']}")
                    break
            else:
                self.assocs.append(Assoc(pos, ident, atype, role, ends["originNodeURI"],
                                         ends["destinationNodeURI"],
                                         as_int(assoc.get("sequenceNumber"))))

    # ------------------------------------------------------------------ classifying
    def classify(self) -> None:
        """Level items (hasSkillLevel destinations), domain items, competencies; their ids."""
        level_items = {a.dest for a in self.assocs
                       if a.role == "level" and isinstance(a.dest, int)}
        for pos, item in self.items.items():
            if pos in level_items:
                self.report.item_roles[pos] = "level"
            elif item.kind in self.domain_types:
                self.report.item_roles[pos] = "domain"
        comps = [p for p in self.items if self.report.item_roles[p] == "competency"]
        slugs = {p: slug(self.items[p].code) for p in comps}
        shared = defaultdict(int)
        for s in slugs.values():
            shared[s] += 1
        used: set[str] = set()
        for p in comps:
            candidate = slugs[p] if slugs[p] and shared[slugs[p]] == 1 else self.items[p].ident
            if candidate in used:
                candidate = f"{self.items[p].ident}-{p}"
            used.add(candidate)
            self.ids[p] = candidate

    def role(self, pos: int | str) -> str:
        return DOC if pos == DOC else self.report.item_roles[pos]

    def label(self, pos: int | str) -> str:
        """How a report names an item: its competency id, else its identifier."""
        return DOC if pos == DOC else self.ids.get(pos, self.items[pos].ident)

    def _wrong_end(self, assoc: Assoc, needs: str) -> bool:
        ends = (self.role(assoc.origin), self.role(assoc.dest))
        self.report.skip("CFAssociation", assoc.pos, assoc.ident, "wrong endpoint",
                         f"{assoc.atype} needs {needs}; got origin {self.label(assoc.origin)} "
                         f"({ends[0]}) and destination {self.label(assoc.dest)} ({ends[1]})")
        return False

    # ------------------------------------------------------------------ hierarchy
    def hierarchy(self) -> dict[int, tuple[int | str, Assoc]]:
        """Each item's one parent (item position or ``DOC``), with isChildOf cycles cut."""
        parent: dict[int, tuple[int | str, Assoc]] = {}
        tree = ("competency", "domain")
        for a in sorted((a for a in self.assocs if a.role == "hierarchy"),
                        key=lambda a: a.pos):
            if self.role(a.origin) not in tree or self.role(a.dest) not in (*tree, DOC):
                self._wrong_end(a, "a competency or domain child and a parent item or document")
            elif a.origin == a.dest:
                self.report.skip("CFAssociation", a.pos, a.ident, "self loop", self.label(a.dest))
            elif a.origin in parent:
                first = parent[a.origin][1]
                self.report.skip("CFAssociation", a.pos, a.ident, "second parent",
                                 f"{self.label(a.origin)} is already a child of "
                                 f"{self.label(first.dest)} (association {first.ident})")
            else:
                parent[a.origin] = (a.dest, a)
                self.report.association_roles[a.pos] = "hierarchy"
        done: set[int | str] = set()
        for start in list(parent):
            path: dict[int | str, int] = {}  # node -> its place on the walk (ordered)
            node: int | str = start
            while node in parent and node not in done and node not in path:
                path[node] = len(path)
                node = parent[node][0]
            if node in path:
                loop = list(path)[path[node]:]
                names = " -> ".join(self.label(n) for n in [*loop, loop[0]])
                for n in loop:
                    a = parent.pop(n)[1]
                    self.report.skip("CFAssociation", a.pos, a.ident, "isChildOf cycle", names)
            done.update(path)
        return parent

    def domains(self, parent: dict[int, tuple[int | str, Assoc]]) -> dict[int, str]:
        """Each competency's domain label: nearest Domain-typed ancestor, else its root."""
        anchor: dict[int, int] = {}
        for pos in self.ids:
            path, node = [], pos
            while node not in anchor:
                path.append(node)
                if self.role(node) == "domain" and node != pos:
                    anchor[node] = node
                    break
                up = parent.get(node, (DOC,))[0]
                if up == DOC:
                    anchor[node] = node
                    break
                node = up
            for n in path:
                anchor[n] = anchor[node]
        return {pos: self.domain_label(anchor[pos]) for pos in self.ids}

    def domain_label(self, pos: int) -> str:
        return item_name(self.items[pos])

    # ------------------------------------------------------------------ prerequisites
    def prerequisites(self) -> dict[int, list[int]]:
        """Prerequisite edges between competencies; every edge of a cycle is reported."""
        graph = nx.DiGraph()
        for a in (a for a in self.assocs if a.role.startswith("prerequisite")):
            u, v = (a.dest, a.origin) if a.role == "prerequisite-reversed" else (a.origin, a.dest)
            if self.role(u) != "competency" or self.role(v) != "competency":
                self._wrong_end(a, "two competencies")
            elif u == v:
                self.report.skip("CFAssociation", a.pos, a.ident, "self loop", self.label(u))
            elif graph.has_edge(u, v):
                self.report.skip("CFAssociation", a.pos, a.ident, "duplicate association",
                                 f"{self.label(u)} -> {self.label(v)} is already association "
                                 f"{graph.edges[u, v]['assoc'].ident}")
            else:
                graph.add_edge(u, v, assoc=a)
        for component in nx.strongly_connected_components(graph):
            if len(component) < 2:
                continue
            sub = graph.subgraph(component).copy()
            loop = [u for u, _ in nx.find_cycle(sub)]
            names = " -> ".join(self.label(n) for n in [*loop, loop[0]])
            for u, v, a in sub.edges(data="assoc"):
                self.report.skip("CFAssociation", a.pos, a.ident, "precedes cycle",
                                 f"{self.label(u)} -> {self.label(v)} is in the cycle {names}")
                graph.remove_edge(u, v)
        prereqs: dict[int, list[int]] = defaultdict(list)
        for u, v, a in graph.edges(data="assoc"):
            prereqs[v].append(u)
            self.report.association_roles[a.pos] = "prerequisite"
        return prereqs

    # ------------------------------------------------------------------ levels
    def levels(self) -> dict[int, dict[str, str]]:
        """Level descriptors from hasSkillLevel associations, else from ``notes`` lines."""
        by_comp: dict[int, list[Assoc]] = defaultdict(list)
        for a in (a for a in self.assocs if a.role == "level"):
            if self.role(a.origin) != "competency" or self.role(a.dest) != "level":
                self._wrong_end(a, "a competency origin and a level item destination")
            else:
                by_comp[a.origin].append(a)
        found: dict[int, dict[str, str]] = {}
        for comp, links in by_comp.items():
            links.sort(key=lambda a: (a.seq is None, a.seq or 0, a.pos))
            names = [level_name(self.items[a.dest]) for a in links]
            if len(links) == len(LEVELS) and not any(names):
                names = list(LEVELS)
            descriptors: dict[str, str] = {}
            for a, name in zip(links, names, strict=True):
                wording = self.items[a.dest].full or self.items[a.dest].abbr
                if name is None:
                    self.report.skip("CFAssociation", a.pos, a.ident, "level not recognised",
                                     f"level item {self.label(a.dest)} labels "
                                     f"{list(self.items[a.dest].labels[:3])}; expected one of "
                                     f"{list(LEVELS)}")
                elif name in descriptors:
                    self.report.skip("CFAssociation", a.pos, a.ident, "duplicate level",
                                     f"{self.label(comp)} already has {name!r}")
                else:
                    descriptors[name] = wording
                    self.report.association_roles[a.pos] = "level"
            found[comp] = descriptors
        used = {a.dest for a in self.assocs if self.report.association_roles[a.pos] == "level"}
        for pos, item in self.items.items():
            if self.report.item_roles[pos] == "level" and pos not in used:
                self.report.skip("CFItem", pos, item.ident, "unused level descriptor")
        for pos in self.ids:
            if not found.get(pos):
                found[pos] = {m.group(1).lower(): m.group(2)
                              for m in LEVEL_LINE.finditer(self.items[pos].notes)}
        return found

    # ------------------------------------------------------------------ assembling
    def run(self) -> CaseImport:
        if not isinstance(self.package, Mapping):
            self.report.skip("package", None, "", "package",
                             f"a CFPackage is a JSON object, got {type(self.package).__name__}")
            return CaseImport(None, self.report)
        doc = self.read_document()
        self.read_items()
        self.read_associations()
        self.classify()
        parent = self.hierarchy()
        domains = self.domains(parent)
        prereqs = self.prerequisites()
        levels = self.levels()
        for a in self.assocs:
            if self.report.association_roles[a.pos] == "pending":  # pragma: no cover - guard
                raise AssertionError(f"association {a.ident} was neither used nor reported")
        if not self.ids:
            return CaseImport(None, self.report)
        competencies = []
        for pos, cid in self.ids.items():
            item = self.items[pos]
            up = parent.get(pos, (DOC,))[0]
            comp = {"id": cid, "name": item_name(item), "domain": domains[pos],
                    "description": item.full, "levels": levels[pos],
                    "prerequisites": sorted(self.ids[p] for p in prereqs.get(pos, [])),
                    "case_id": item.ident}
            if item.code:
                comp["code"] = item.code
            if up != DOC and self.role(up) == "competency":
                comp["parent"] = self.ids[up]
            if up != DOC and parent[pos][1].seq is not None:
                comp["sequence"] = parent[pos][1].seq
            competencies.append(comp)
        title = doc.get("title") or "CASE import"
        framework = {"name": slug(title).lower() or "case", "title": title,
                     "description": doc.get("description", ""), "scale": dict(DEFAULT_SCALE),
                     "source": {"standard": "CASE 1.0", **doc}, "competencies": competencies}
        return CaseImport(framework, self.report)


def import_case(package: Any, *, association_map: Mapping[str, str] | None = None,
                domain_types: tuple[str, ...] = DOMAIN_TYPES) -> CaseImport:
    """Import a CFPackage (a parsed JSON value) as a framework mapping plus its report.

    ``association_map`` gives roles (:data:`ROLES`) to association types beyond the defaults
    (``isChildOf`` hierarchy, ``precedes`` prerequisite, ``hasSkillLevel`` level), e.g.
    ``{"isPartOf": "hierarchy"}``. The framework (``None`` when no item could be imported)
    loads with :func:`recommender.graph.build_framework`.
    """
    bad = {t: r for t, r in dict(association_map or {}).items()
           if t not in ASSOCIATION_TYPES or r not in ROLES}
    if bad:
        raise ValueError(f"association_map {bad}: types must be among {list(ASSOCIATION_TYPES)} "
                         f"and roles among {list(ROLES)}")
    return _Importer(package, association_map, domain_types).run()


def read_case(path: str | Path, **options: Any) -> CaseImport:
    """Read a CFPackage JSON file and import it; a file that is not JSON is reported, not raised."""
    try:
        package = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        result = CaseImport(None, ImportReport())
        result.report.skip("package", None, str(path), "package", f"not JSON: {exc}")
        return result
    return import_case(package, **options)
