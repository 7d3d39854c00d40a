"""`pdrec teams`: put, list, recommend (the API's answer, in this process) and from-roster, on
small generated data and the shared OneRoster samples; bad arguments exit 2 naming them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.settings import Settings
from pipelines.app import create_app
from pipelines.cli import app
from recommender.store import open_store, sqlite_url
from tests.api.conftest import record
from tests.standards.roster_factory import district

SHARED = Path(__file__).resolve().parents[3] / "shared/data/standards/oneroster"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PDREC_LOAD_MODEL", "false")  # no champion here: the graph rule serves
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def _run(data_dir, *args):
    result = CliRunner().invoke(app, ["teams", *args, "--data-dir", str(data_dir)])
    return result


def _seed(data_dir) -> TestClient:
    """Three educators of acme with a goal and evidence, through the API; an open client."""
    store = open_store(sqlite_url(data_dir))
    key, _ = store.create_key("acme", "platform", "lms")
    store.dispose()
    client = TestClient(create_app(Settings(data_dir=data_dir, load_model=False)),
                        headers={"Authorization": f"Bearer {key}"})
    client.__enter__()
    for i, e in enumerate(("T1", "T2", "T3")):
        assert client.put(f"/v1/educators/{e}", json={"goals": ["INS.FORMATIVE"]}).status_code \
            in (200, 201)
        r = client.post("/v1/evidence", json={"records": [
            record(f"{e}-{j}", educator=e, competency=c, score=s, day=j + 1)
            for j, (c, s) in enumerate([("INS.FORMATIVE", 1 + i), ("COG.ASSESS_LIT", 2)])]})
        assert r.status_code in (200, 207), r.text
    return client


def test_put_list_and_recommend_answer_as_the_api(data_dir):
    client = _seed(data_dir)
    try:
        put = _run(data_dir, "put", "plc-7", "--tenant", "acme", "-m", "T1", "-m", "T2",
                   "-m", "T3", "-m", "T1", "-m", "ghost", "--name", "Grade 7")
        assert put.exit_code == 0, put.output
        assert "created: 4 member(s)" in put.output
        again = _run(data_dir, "put", "plc-7", "--tenant", "acme", "-m", "T1", "-m", "T2",
                     "-m", "T3", "-m", "ghost", "--name", "Grade 7 math")
        assert "replaced" in again.output
        listed = _run(data_dir, "list", "--tenant", "acme")
        assert listed.exit_code == 0 and "plc-7" in listed.output
        assert "Grade 7 math" in listed.output and "T1, T2, T3, ghost" in listed.output

        out = _run(data_dir, "recommend", "plc-7", "--tenant", "acme", "--budget", "40",
                   "--k", "2", "--objective", "gain")
        assert out.exit_code == 0, out.output
        api = client.post("/v1/teams/plc-7/recommendations",
                          json={"k": 2, "max_hours": 40, "objective": "gain"}).json()
        assert api["steps"], api
        assert "left out: ghost" in out.output
        shown = re.findall(r"│ (\d) │ (ACT-\d+)", out.output)
        assert [a for _, a in shown] == [s["activity_id"] for s in api["steps"]]
        for s in api["steps"]:
            assert s["reason"].split(" (")[0] in out.output.replace("\n", " ")
        assert "Members on" in out.output and "readiness" in out.output
        default = _run(data_dir, "recommend", "plc-7", "--tenant", "acme", "--no-members")
        api = client.post("/v1/teams/plc-7/recommendations", json={}).json()  # its defaults
        assert [a for _, a in re.findall(r"│ (\d) │ (ACT-\d+)", default.output)] == [
            s["activity_id"] for s in api["steps"]]
        assert "Members on" not in default.output
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("args,words", [
    (["put", "a/b", "--tenant", "acme", "-m", "T1"], "TEAM 'a/b'"),
    (["put", "t", "--tenant", "acme", "-m", "x" * 129], "--member"),
    (["put", "t", "--tenant", "acme", "-m", "T1", "--name", "x" * 65], "65 characters"),
    (["recommend", "t", "--tenant", "acme", "--budget", "0"], "--budget 0"),
    (["recommend", "t", "--tenant", "acme", "--objective", "fun"], "--objective 'fun'"),
    (["from-roster", "nope", "--tenant", "acme"], "does not exist"),
])
def test_bad_arguments_exit_2_naming_them(data_dir, args, words):
    result = _run(data_dir, *args)
    assert result.exit_code == 2 and words in result.output, result.output


def test_recommend_for_an_unknown_team_says_so(data_dir):
    result = _run(data_dir, "recommend", "nope", "--tenant", "acme")
    assert result.exit_code == 1 and "no team 'nope'" in result.output


def test_from_roster_seeds_class_and_school_teams(data_dir, tmp_path):
    folder = district(tmp_path / "roster")
    dry = _run(data_dir, "from-roster", str(folder), "--tenant", "acme", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing written" in dry.output
    assert "class-c3" in dry.output and "t1, t3, a1" in dry.output
    store = open_store(sqlite_url(data_dir))
    try:
        assert store.list_teams("acme") == ([], 0)
        done = _run(data_dir, "from-roster", str(folder), "--tenant", "acme")
        assert done.exit_code == 0 and "4 team(s) created, 0 replaced" in done.output
        assert store.get_team("acme", "class-c3").members == ["t1", "t3", "a1"]
        schools = _run(data_dir, "from-roster", str(folder), "--tenant", "acme", "--by",
                       "school")
        assert "2 team(s) created" in schools.output
        assert store.get_team("acme", "school-sch2").name == "Oak High"
        assert store.list_teams("acme")[1] == 6
        again = _run(data_dir, "from-roster", str(folder), "--tenant", "acme")
        assert "0 team(s) created, 4 replaced" in again.output
    finally:
        store.dispose()
    assert _run(data_dir, "from-roster", str(folder), "--tenant", "a", "--by",
                "grade").exit_code == 2


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared OneRoster samples not present")
def test_from_roster_reads_the_shared_sample(data_dir):
    result = _run(data_dir, "from-roster", str(SHARED / "nicelion__oneroster-mocker__outputs"),
                  "--tenant", "acme", "--by", "school")
    assert result.exit_code == 0, result.output
    assert "1 team(s) created" in result.output and "Fredy VonRueden" in result.output
