"""Repeatable activities through the API: a catalog with a repeatable activity, completed twice
over time, is proposed again after its cool-down and not before; a one-shot one never again."""

from datetime import UTC, datetime, timedelta
from importlib import resources

import yaml


def _catalog_file(tmp_path):
    """The shipped catalog with its first activity repeatable (14-day cool-down)."""
    data = yaml.safe_load(resources.files("recommender.data").joinpath("catalog_educator.yaml")
                          .read_text(encoding="utf-8"))
    first, second = data["activities"][:2]
    first |= {"repeatable": True, "cooldown_days": 14}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, str(first["id"]), str(second["id"])


def test_a_repeatable_activity_completed_twice_comes_back_after_each_cooldown(make_api, tmp_path):
    path, cycle, once = _catalog_file(tmp_path)
    now = datetime.now(UTC)

    def completed(activity, days_ago):
        at = (now - timedelta(days=days_ago)).isoformat()
        r = api.post("/v1/feedback", json={"events": [
            {"educator_id": "T1", "activity_id": activity, "event": "completed", "at": at}]})
        assert r.status_code == 201, r.text

    def shown():
        r = api.get("/v1/educators/T1/recommendations",
                    params={"k": 5, "available": [cycle, once]})
        assert r.status_code == 200, r.text
        return [i["activity_id"] for i in r.json()["items"]]

    with make_api(catalog=path) as api:
        assert api.services.catalog.cooldowns == {cycle: 14.0}
        listed = {a["activity_id"]: a for a in api.get("/v1/activities").json()["activities"]}
        assert (listed[cycle]["repeatable"], listed[cycle]["cooldown_days"]) == (True, 14.0)
        assert (listed[once]["repeatable"], listed[once]["cooldown_days"]) == (False, 0.0)
        api.put("/v1/educators/T1", json={})
        assert sorted(shown()) == sorted([cycle, once])
        completed(cycle, 40)
        completed(once, 40)
        assert shown() == [cycle]  # 40 days > 14: the cycle again; the one-shot never
        completed(cycle, 3)  # the second round
        assert shown() == []  # 3 days < 14
        completed(cycle, 20)  # an older completion does not reset the last one
        assert shown() == []
