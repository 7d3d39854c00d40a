"""Tenant vocabularies for a catalog's format, modality and level (issue 20, item 4)."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import FORMATS, MODALITIES, build_catalog
from recommender.errors import CatalogError, InvalidInputError
from recommender.graph import LEVELS
from recommender.pathway import plan_pathway
from recommender.ranking import EducatorContext, rank_activities
from recommender.vocabulary import DEFAULT_VOCABULARIES, Vocabularies
from tests.recommender.test_ranking import activity, framework, ids_of, table

G = framework([("FA", "AL")])
DISTRICT = {"formats": ["workshop", "book_study"], "levels": ["intro", "core"]}


def _district(**vocab):
    acts = [activity("W1", {"FA": 1.0}, fmt="workshop") | {"level": "intro"},
            activity("B1", {"FA": 1.0}, fmt="book_study") | {"level": "core"},
            activity("B2", {"AL": 1.0}, fmt="book_study", modality="in_person")
            | {"level": "intro"}]
    return build_catalog({"vocabularies": vocab or DISTRICT, "activities": acts}, G)


def test_without_the_block_the_defaults_apply():
    cat = build_catalog({"activities": [activity("A", {"FA": 1.0})]}, G)
    assert cat.vocabularies == DEFAULT_VOCABULARIES
    assert (cat.vocabularies.formats, cat.vocabularies.modalities,
            cat.vocabularies.levels) == (FORMATS, MODALITIES, LEVELS)


def test_a_declared_vocabulary_replaces_only_the_keys_it_names():
    v = _district().vocabularies
    assert v.formats == ("workshop", "book_study") and v.levels == ("intro", "core")
    assert v.modalities == MODALITIES
    assert v.to_dict() == {"formats": ["workshop", "book_study"], "modalities": list(MODALITIES),
                           "levels": ["intro", "core"]}


def test_an_activity_outside_the_vocabulary_is_named_with_field_value_and_allowed():
    acts = [activity("OK", {"FA": 1.0}, fmt="workshop") | {"level": "intro"},
            activity("BAD", {"FA": 1.0}, fmt="course") | {"level": "expert"}]
    with pytest.raises(CatalogError) as err:
        build_catalog({"vocabularies": DISTRICT, "activities": acts}, G)
    text = str(err.value)
    assert "BAD: format 'course' is not one of ['workshop', 'book_study']" in text
    assert "BAD: level 'expert' is not one of ['intro', 'core']" in text
    assert "OK:" not in text
    # the default vocabulary still refuses a district word when no block declares it
    with pytest.raises(CatalogError, match="W: format 'workshop' is not one of"):
        build_catalog({"activities": [activity("W", {"FA": 1.0}, fmt="workshop")]}, G)


@pytest.mark.parametrize("block,named", [
    ({"format": ["x"]}, "unknown key 'format'"),
    ({"formats": []}, "formats [] must be a non-empty list"),
    ({"formats": "workshop"}, "formats 'workshop' must be a non-empty list"),
    ({"levels": ["a", "a"]}, "levels repeats ['a']"),
    ({"modalities": ["ok", 3, " pad"]}, "modalities has [3, ' pad'], not words"),
    (["workshop"], "vocabularies ['workshop'] must be a mapping"),
])
def test_a_bad_vocabulary_block_is_refused_naming_it(block, named):
    with pytest.raises(CatalogError) as err:
        build_catalog({"vocabularies": block, "activities": [activity("A", {"FA": 1.0})]}, G)
    assert named in str(err.value)


def test_matching_selects_by_the_catalogs_words_and_refuses_others():
    cat = _district()
    assert cat.matching() == {"W1", "B1", "B2"}
    assert cat.matching(formats=["book_study"]) == {"B1", "B2"}
    assert cat.matching(formats="book_study", levels=["intro"]) == {"B2"}
    assert cat.matching(modalities=["online"]) == {"W1", "B1"}
    with pytest.raises(InvalidInputError) as err:
        cat.matching(formats=["workshop", "course"])
    assert (err.value.field, err.value.value) == ("formats[1]", "course")
    assert "['workshop', 'book_study']" in err.value.expected


def test_the_ranker_and_the_pathway_keep_to_a_vocabulary_filter_through_available():
    cat = _district()
    only = cat.matching(formats=["book_study"])
    ctx = EducatorContext(available=only, pinned=("W1",))
    recs = rank_activities(G, cat, table({"FA": 0.2, "AL": 0.2}), context=ctx)
    assert ids_of(recs) and set(ids_of(recs)) <= {"B1", "B2"}  # the pin is not takeable
    plan = plan_pathway(G, cat, table({"FA": 0.2, "AL": 0.2}), ["AL"], context=ctx)
    assert {s.activity_id for s in plan.steps} <= {"B1", "B2"}


WORD = st.text("abcdefgh_", min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=5, unique=True), st.data())
def test_matching_is_exactly_the_activities_of_the_chosen_words(words, data):
    chosen = data.draw(st.lists(st.sampled_from(words), min_size=1, unique=True))
    fmts = data.draw(st.lists(st.sampled_from(words), min_size=1, max_size=8))
    acts = [activity(f"A{i}", {"FA": 1.0}, fmt=f) for i, f in enumerate(fmts)]
    cat = build_catalog({"vocabularies": {"formats": words}, "activities": acts}, G)
    assert cat.matching(formats=chosen) == {f"A{i}" for i, f in enumerate(fmts) if f in chosen}
    assert cat.matching(formats=words) == {a["id"] for a in acts}


def test_vocabularies_are_values():
    v = Vocabularies(formats=("a",))
    assert dataclasses.replace(v) == v and hash(v) == hash(Vocabularies(formats=("a",)))
    assert v.check("formats", None) is None and v.check("formats", ["a", "a"]) == ("a",)
