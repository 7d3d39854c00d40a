"""The engine's own exceptions: what they carry and where the engine raises them."""

from __future__ import annotations

import pytest

from recommender.catalog import default_catalog
from recommender.errors import InvalidInputError, RecommenderError
from recommender.graph import default_framework
from recommender.pathway import plan_pathway


def test_invalid_input_names_the_field_the_value_and_what_was_expected():
    exc = InvalidInputError("k", 0, "an integer >= 1")
    assert (exc.field, exc.value, exc.expected) == ("k", 0, "an integer >= 1")
    assert str(exc) == "k must be an integer >= 1; got 0"
    # callers that catch the builtin keep working
    assert isinstance(exc, ValueError) and isinstance(exc, RecommenderError)
    assert str(InvalidInputError("k", 0, "x", "custom message")) == "custom message"


def test_a_pathway_without_goals_is_an_input_error_naming_goals():
    graph = default_framework("educator")
    with pytest.raises(InvalidInputError, match="goals must name at least one competency") as e:
        plan_pathway(graph, default_catalog(graph), {}, [])
    assert e.value.field == "goals" and e.value.value == []


def test_a_bad_ranking_request_field_is_an_input_error_naming_it():
    from recommender.ranking import RankingRequest

    with pytest.raises(InvalidInputError, match=r"RankingRequest.k must be an integer >= 1; got 0\.") as e:
        RankingRequest(k=0)
    assert (e.value.field, e.value.value) == ("RankingRequest.k", 0)
