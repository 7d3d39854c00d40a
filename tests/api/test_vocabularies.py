"""A district catalog with its own format and level vocabularies, through the real app: the
listing serves the vocabularies, the filters of activities, recommendations, batches and
pathways accept the district's words and refuse others with a 404 (tenant content, like an
unknown competency) naming the allowed ones."""

from importlib import resources

import pytest
import yaml

from recommender.catalog import FORMATS, MODALITIES
from recommender.graph import LEVELS

WORDS = {"formats": ["workshop", "book_study"], "levels": ["intro", "core", "deep"]}


def _district_catalog(tmp_path):
    """The shipped catalog in a district's words: every other activity a workshop."""
    data = yaml.safe_load(resources.files("recommender.data").joinpath("catalog_educator.yaml")
                          .read_text(encoding="utf-8"))
    for i, a in enumerate(data["activities"]):
        a["format"] = WORDS["formats"][i % 2]
        a["level"] = WORDS["levels"][i % 3]
    data["vocabularies"] = WORDS
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def district(make_api, tmp_path):
    with make_api(catalog=_district_catalog(tmp_path)) as api:
        api.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
        yield api


def test_the_listing_serves_the_default_vocabularies(api):
    body = api.get("/v1/activities").json()
    assert body["vocabularies"] == {"formats": list(FORMATS), "modalities": list(MODALITIES),
                                    "levels": list(LEVELS)}


def test_the_listing_serves_the_districts_vocabularies_and_filters_by_them(district):
    body = district.get("/v1/activities").json()
    assert body["vocabularies"] == {**WORDS, "modalities": list(MODALITIES)}
    shops = district.get("/v1/activities", params={"format": "workshop", "level": "core"}).json()
    assert shops["count"] > 0
    assert all(a["format"] == "workshop" and a["level"] == "core" for a in shops["activities"])
    r = district.get("/v1/activities", params={"format": "course"})
    assert r.status_code == 404  # a word the catalog does not use: tenant content, not found
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == "format[0]" and detail["value"] == "course"
    assert "['workshop', 'book_study']" in detail["reason"]
    r = district.get("/v1/activities", params={"level": ["intro", "advanced"]})
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "level[1]"


def test_recommendations_and_batches_take_the_districts_formats(district):
    items = district.get("/v1/educators/T1/recommendations",
                         params={"formats": "book_study", "k": 8}).json()["items"]
    assert items and {i["format"] for i in items} == {"book_study"}
    r = district.get("/v1/educators/T1/recommendations", params={"formats": "course"})
    assert r.status_code == 404
    assert r.json()["error"]["details"][0]["field"] == "formats[0]"
    batch = district.post("/v1/recommendations:batch",
                          json={"educator_ids": ["T1"], "formats": ["workshop"]}).json()
    assert {i["format"] for i in batch["results"][0]["items"]} == {"workshop"}
    r = district.post("/v1/recommendations:batch",
                      json={"educator_ids": ["T1"], "formats": ["workshop", "x"]})
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "formats[1]"


def test_a_format_filter_and_available_combine(district):
    acts = district.get("/v1/activities", params={"format": "workshop"}).json()["activities"]
    one = acts[0]["activity_id"]
    other = district.get("/v1/activities", params={"format": "book_study"}).json()
    params = {"formats": "workshop", "available": [one, other["activities"][0]["activity_id"]]}
    items = district.get("/v1/educators/T1/recommendations", params=params).json()["items"]
    assert [i["activity_id"] for i in items] in ([one], [])


def test_pathways_take_the_districts_formats(district):
    plan = district.get("/v1/educators/T1/pathway", params={"formats": "workshop"}).json()
    fmt = {a["activity_id"]: a["format"]
           for a in district.get("/v1/activities").json()["activities"]}
    assert plan["steps"] and {fmt[s["activity_id"]] for s in plan["steps"]} == {"workshop"}
    r = district.get("/v1/educators/T1/pathway", params={"formats": "course"})
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "formats[0]"


def test_the_default_catalog_still_refuses_a_word_outside_its_vocabulary(api):
    api.put("/v1/educators/T1", json={})
    r = api.get("/v1/educators/T1/recommendations", params={"formats": "workshop"})
    assert r.status_code == 404
    assert "'course'" in r.json()["error"]["details"][0]["reason"]
