"""The pure side of per-tenant content: documents, ``replaces``, the evidence a framework
reads (mapped, kept aside), and upload checks against a store double."""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.catalog import default_catalog
from recommender.graph import build_framework, default_framework
from recommender.tenant_content import (
    ContentError,
    TenantContent,
    framework_hash,
    parse_document,
    replacements,
    upload,
)

FW = {"name": "t", "competencies": [
    {"id": "A", "name": "A", "domain": "d", "replaces": ["OLD1", "OLD2"]},
    {"id": "B", "name": "B", "domain": "d", "replaces": "OLD3", "prerequisites": ["A"]}]}


@functools.lru_cache(maxsize=1)
def _default() -> TenantContent:
    base = default_framework("educator")
    return TenantContent(base, default_catalog(base), framework_hash=framework_hash(base))


@functools.lru_cache(maxsize=1)
def _content(doc=None):
    doc = doc or FW
    g = build_framework(doc)
    base = default_framework("educator")
    return TenantContent(g, default_catalog(base), framework_version=1,
                         framework_hash=framework_hash(g), replaced=replacements(g))


def test_documents_are_mappings_or_yaml_text():
    assert parse_document("name: x\ncompetencies: []\n", "framework") == {
        "name": "x", "competencies": []}
    assert parse_document({"d": __import__("datetime").date(2025, 1, 2)}, "catalog") == {
        "d": "2025-01-02"}
    for bad in ("[1, 2]", "a: [", 7):
        with pytest.raises(ContentError) as info:
            parse_document(bad, "catalog")
        assert info.value.field == "catalog"


def test_replaces_maps_retired_ids_and_refuses_ambiguity():
    assert replacements(build_framework(FW)) == {"OLD1": "A", "OLD2": "A", "OLD3": "B"}
    twice = {"name": "t", "competencies": [
        {"id": "A", "name": "A", "domain": "d", "replaces": ["X"]},
        {"id": "B", "name": "B", "domain": "d", "replaces": ["X", "A"]}]}
    with pytest.raises(ContentError) as info:
        replacements(build_framework(twice))
    assert len(info.value.problems) == 2 and "still a competency" in str(info.value)


@given(st.lists(st.sampled_from(["A", "B", "OLD1", "OLD3", "GONE", "ALSO.GONE"]), max_size=30))
def test_usable_evidence_is_mapped_or_left_out_never_invented(comps):
    ev = pd.DataFrame({"evidence_id": [f"e{i}" for i in range(len(comps))],
                       "competency_id": pd.Series(comps, dtype=object)})
    out = _content().usable(ev)
    kept = [c for c in comps if c not in ("GONE", "ALSO.GONE")]
    assert list(out["evidence_id"]) == [f"e{i}" for i, c in enumerate(comps) if c in kept]
    assert list(out["competency_id"]) == [{"OLD1": "A", "OLD3": "B"}.get(c, c) for c in kept]
    assert list(ev["competency_id"]) == comps  # the input is untouched


class _Store:
    """What upload needs of a store: evidence counts, and where versions go."""

    def __init__(self, counts):
        self.counts, self.put = counts, None

    def evidence_by_competency(self, tenant_id):
        return self.counts

    def put_content(self, tenant_id, documents, by=""):
        self.put = documents
        return {k: 1 for k in documents}, 3


def test_upload_reports_retired_evidence_and_writes_the_mapping_into_the_document():
    current = _default()
    store = _Store({"INS.FORMATIVE": (4, 2), "OLD1": (1, 1), "A": (2, 1)})
    with pytest.raises(ContentError) as info:  # the default catalog does not fit FW
        upload(store, "t", current, framework=FW)
    assert info.value.field == "catalog" and store.put is None
    catalog = {"activities": [{"id": "X", "title": "X", "format": "course", "hours": 1,
                               "modality": "online", "level": "developing",
                               "expected_gain": 0.1, "competencies": {"A": 1}}]}
    report = upload(store, "t", current, framework=FW, catalog=catalog,
                    mapping={"INS.FORMATIVE": "B"})
    assert report.retired == [
        {"competency_id": "INS.FORMATIVE", "records": 4, "educators": 2, "mapped_to": "B"},
        {"competency_id": "OLD1", "records": 1, "educators": 1, "mapped_to": "A"}]
    doc, digest = store.put["framework"]
    assert doc["competencies"][1]["replaces"] == ["OLD3", "INS.FORMATIVE"]
    assert digest == report.framework_hash == framework_hash(build_framework(doc))
    with pytest.raises(ContentError, match="mapping"):
        upload(store, "t", current, framework=FW, catalog=catalog, mapping={"Z": "NOPE"})


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 5)
                     | st.sampled_from(["A", "B", "d", "x", "course", "online", "developing"]),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["id", "name", "domain", "prerequisites",
                                                        "replaces", "min", "max"]), inner,
                                       max_size=4), max_leaves=12)
_COMPETENCY = st.fixed_dictionaries({"id": st.sampled_from(["A", "B", "C"]),
                                     "name": st.just("n"), "domain": st.just("d")},
                                    optional={"prerequisites": _JSON, "replaces": _JSON,
                                              "levels": _JSON})


@given(st.one_of(_JSON, st.fixed_dictionaries(
    {"name": st.just("t"), "competencies": st.lists(_COMPETENCY | _JSON, max_size=4)},
    optional={"scale": _JSON, "edges": _JSON})))
def test_any_framework_document_is_stored_or_refused_with_a_content_error(document):
    current = _default()
    catalog = {"activities": [{"id": "X", "title": "X", "format": "course", "hours": 1,
                               "modality": "online", "level": "developing",
                               "expected_gain": 0.1, "competencies": {"A": 1}}]}
    store = _Store({})
    try:
        upload(store, "t", current, framework=document, catalog=catalog)
    except ContentError as exc:
        assert exc.field in ("framework", "catalog") and exc.problems and store.put is None
    else:
        assert set(store.put) == {"framework", "catalog"}
