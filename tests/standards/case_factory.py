"""Hand-built and generated CASE 1.0 packages for the importer tests.

``package`` builds a tidy CFPackage from short item and association specs; ``tidy_packages`` is
a hypothesis strategy of tidy packages (a tree, a precedes DAG, level descriptors, some Domain
items); ``untidy_packages`` applies random mixes of the traps real packages show (URIs as plain
strings, numbers as strings, outside references, duplicates, cycles, non-objects, ...).
"""

from __future__ import annotations

import copy
import uuid

from hypothesis import strategies as st

BASE = "https://case.test/ims/case/v1p0"
DOC_ID = "d1000000-0000-4000-8000-000000000000"
WHEN = "2024-01-01T00:00:00+00:00"
LEVEL_NAMES = ("beginning", "developing", "proficient", "advanced")


def uid(n: int, prefix: str = "0") -> str:
    return f"{prefix * 8}-0000-4000-8000-{n:012d}"


def link(identifier: str, collection: str = "CFItems", title: str = "t") -> dict:
    return {"title": title, "identifier": identifier, "uri": f"{BASE}/{collection}/{identifier}"}


def item(identifier: str, full: str, code: str | None = None, **extra) -> dict:
    body = {"identifier": identifier, "uri": f"{BASE}/CFItems/{identifier}",
            "lastChangeDateTime": WHEN, "fullStatement": full, **extra}
    if code is not None:
        body["humanCodingScheme"] = code
    return body


def assoc(identifier: str, atype: str, origin: str, dest: str, **extra) -> dict:
    dest_link = link(DOC_ID, "CFDocuments") if dest == DOC_ID else link(dest)
    return {"identifier": identifier, "uri": f"{BASE}/CFAssociations/{identifier}",
            "lastChangeDateTime": WHEN, "associationType": atype,
            "originNodeURI": link(origin), "destinationNodeURI": dest_link, **extra}


def package(items: list[dict], assocs: list[dict], title: str = "Test framework") -> dict:
    return {"CFDocument": {"identifier": DOC_ID, "uri": f"{BASE}/CFDocuments/{DOC_ID}",
                           "creator": "tests", "title": title, "lastChangeDateTime": WHEN},
            "CFItems": items, "CFAssociations": assocs}


def chain_package(codes: list[str], precedes: list[tuple[str, str]]) -> dict:
    """Items coded ``codes`` (children of the document) and ``precedes`` between codes."""
    ids = {c: uid(i + 1) for i, c in enumerate(codes)}
    items = [item(ids[c], f"Statement {c}", c) for c in codes]
    assocs = [assoc(uid(i + 1, "a"), "isChildOf", ids[c], DOC_ID) for i, c in enumerate(codes)]
    assocs += [assoc(uid(100 + i, "b"), "precedes", ids[u], ids[v])
               for i, (u, v) in enumerate(precedes)]
    return package(items, assocs)


@st.composite
def tidy_packages(draw) -> dict:
    """A valid package: a tree under the document, a precedes DAG, some levels, some domains."""
    n = draw(st.integers(1, 10))
    ids = [str(u) for u in draw(st.lists(st.uuids(), min_size=n, max_size=n, unique=True))]
    prefix = draw(st.sampled_from(["M", "ELA.RL", "H A", "Std-1"]))
    items, assocs = [], []
    serial = iter(range(1, 10_000))
    parents = [draw(st.integers(-1, i - 1)) for i in range(n)]
    domains = {i for i in range(n) if parents[i] == -1 and draw(st.booleans())}
    for i, ident in enumerate(ids):
        code = f"{prefix}.{i}" if draw(st.booleans()) else None
        kind = {"CFItemType": "Domain"} if i in domains else {}
        items.append(item(ident, draw(st.sampled_from(["Plan units", "Use data", f"S{i}"])),
                          code, **kind))
        seq = {"sequenceNumber": i} if draw(st.booleans()) else {}
        up = DOC_ID if parents[i] == -1 else ids[parents[i]]
        assocs.append(assoc(uid(next(serial), "a"), "isChildOf", ident, up, **seq))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12))
    for u, v in {(min(p), max(p)) for p in pairs if p[0] != p[1] and not domains & set(p)}:
        assocs.append(assoc(uid(next(serial), "a"), "precedes", ids[u], ids[v]))
    for i in set(draw(st.lists(st.integers(0, n - 1), max_size=3))) - domains:
        for position, name in enumerate(LEVEL_NAMES, start=1):
            level_id = str(uuid.uuid5(uuid.UUID(ids[i]), name))
            items.append(item(level_id, f"{name} at {i}", abbreviatedStatement=name))
            assocs.append(assoc(uid(next(serial), "a"), "hasSkillLevel", ids[i], level_id,
                                sequenceNumber=position))
    return package(items, assocs)


TRAPS = ("uri_string", "identifier_string", "numbers_as_strings", "outside", "duplicate_item",
         "duplicate_assoc", "cycle", "not_object", "no_statement", "unknown_type",
         "no_identifier", "self_loop", "second_parent", "level_unnamed", "related")


def _apply(pkg: dict, trap: str, k: int) -> None:
    """Apply one trap to ``pkg`` in place; ``k`` picks the element it hits."""
    items, assocs = pkg["CFItems"], pkg["CFAssociations"]
    dicts = [x for x in items if isinstance(x, dict) and "identifier" in x]
    ref = dicts[k % len(dicts)]["identifier"] if dicts else "missing"
    other = dicts[(k + 1) % len(dicts)]["identifier"] if dicts else "missing"
    a = assocs[k % len(assocs)] if assocs else None
    if trap == "uri_string" and isinstance(a, dict) and isinstance(a.get("originNodeURI"), dict):
        a["originNodeURI"] = a["originNodeURI"]["uri"]
    elif trap == "identifier_string" and isinstance(a, dict):
        a["destinationNodeURI"] = str(a.get("destinationNodeURI", {}).get("identifier", "x")
                                      if isinstance(a.get("destinationNodeURI"), dict) else "x")
    elif trap == "numbers_as_strings" and isinstance(a, dict):
        a["sequenceNumber"] = str(k)
        if dicts:
            dicts[k % len(dicts)]["humanCodingScheme"] = k
    elif trap == "outside":
        assocs.append(assoc(uid(9000 + k, "e"), "precedes", ref, uid(8000 + k, "f")))
    elif trap == "duplicate_item" and dicts:
        items.append({**copy.deepcopy(dicts[k % len(dicts)]), "fullStatement": "a copy"})
    elif trap == "duplicate_assoc" and isinstance(a, dict):
        assocs.append(copy.deepcopy(a))
    elif trap == "cycle":
        assocs.append(assoc(uid(9100 + k, "e"), "precedes", ref, other))
        assocs.append(assoc(uid(9200 + k, "e"), "precedes", other, ref))
    elif trap == "not_object":
        (items if k % 2 else assocs).insert(k % (len(items) + 1), [None, 3, "x"][k % 3])
    elif trap == "no_statement" and dicts:
        for key in ("fullStatement", "humanCodingScheme", "abbreviatedStatement"):
            dicts[k % len(dicts)].pop(key, None)
    elif trap == "unknown_type" and isinstance(a, dict):
        a["associationType"] = "isCousinOf"
    elif trap == "no_identifier" and dicts:
        dicts[k % len(dicts)].pop("identifier")
        dicts[k % len(dicts)].pop("uri", None)
    elif trap == "self_loop":
        assocs.append(assoc(uid(9300 + k, "e"), "precedes", ref, ref))
    elif trap == "second_parent":
        assocs.append(assoc(uid(9400 + k, "e"), "isChildOf", ref, other))
    elif trap == "level_unnamed":
        items.append(item(uid(9500 + k, "c"), "some level"))
        assocs.append(assoc(uid(9600 + k, "e"), "hasSkillLevel", ref, uid(9500 + k, "c")))
    elif trap == "related":
        assocs.append(assoc(uid(9700 + k, "e"), "isRelatedTo", ref, other))


@st.composite
def untidy_packages(draw) -> dict:
    """A tidy package spoiled by a random mix of traps."""
    pkg = draw(tidy_packages())
    for trap, k in draw(st.lists(st.tuples(st.sampled_from(TRAPS), st.integers(0, 50)),
                                 max_size=8)):
        _apply(pkg, trap, k)
    return pkg


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=10,
)
"""Any JSON value (what an importer may be handed)."""
