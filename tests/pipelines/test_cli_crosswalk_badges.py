"""``pdrec crosswalk show|expand`` and ``pdrec badges import`` through Typer's CliRunner."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from tests.standards.test_openbadges import ob2, ob3

runner = CliRunner()


def test_crosswalk_show_lists_codes_and_json():
    r = runner.invoke(app, ["crosswalk", "show", "--scheme", "intasc"])
    assert r.exit_code == 0, r.output
    assert "Leadership and Collaboration" in r.output and "REL.TEACHER_LEADERSHIP" in r.output
    data = json.loads(runner.invoke(app, ["crosswalk", "show", "--json"]).output)
    assert data["mappings"]["INS.FORMATIVE"]["danielson"] == ["3b", "3d"]
    assert runner.invoke(app, ["crosswalk", "show", "--scheme", "marzano"]).exit_code == 2
    assert runner.invoke(app, ["crosswalk", "show", "--framework", "leader"]).exit_code == 2


def test_crosswalk_expand_turns_a_rubric_export_into_evidence(tmp_path):
    rubric = tmp_path / "rubric.csv"
    pd.DataFrame({
        "evidence_id": ["o1", "o2", "o3", "o4"], "educator_id": ["T1"] * 4,
        "framework_code": ["danielson:3b", "danielson:2e", "", "FFT:9z"],
        "competency_id": ["", "", "INS.ELL", ""], "source": ["observation"] * 4,
        "score": ["3", "2", "4", "3"], "observed_at": ["2025-03-01T10:00:00Z"] * 4,
    }).to_csv(rubric, index=False)
    out = tmp_path / "evidence.csv"
    r = runner.invoke(app, ["crosswalk", "expand", str(rubric), "--out", str(out)])
    assert r.exit_code == 0, r.output
    written = pd.read_csv(out)
    assert sorted(written["evidence_id"]) == ["o1#INS.FORMATIVE", "o1#REL.LEARNER_AGENCY", "o3"]
    assert "Organizing Physical Space" in r.output and "'FFT:9z'" in r.output
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"evidence_id": ["x"], "educator_id": ["T1"], "framework_code": ["x:1"],
                  "source": ["observation"], "score": ["3"],
                  "observed_at": ["2025-03-01"]}).to_csv(bad, index=False)
    assert runner.invoke(app, ["crosswalk", "expand", str(bad), "--out",
                               str(tmp_path / "none.csv")]).exit_code == 1


def test_badges_import_writes_micro_credentials_and_reports_the_rest(tmp_path):
    cls = {"type": "BadgeClass", "id": "https://example.org/badges/r",
           "alignment": [{"targetCode": "danielson:4c"}]}
    (tmp_path / "cls.json").write_text(json.dumps(cls))
    (tmp_path / "a.json").write_text(json.dumps(ob2(badge=cls["id"])))
    (tmp_path / "many.json").write_text(json.dumps([ob3([{"targetCode": "INS.ELL"}]),
                                                    ob2(revoked=True, id="urn:x")]))
    (tmp_path / "who.yaml").write_text("alice@example.org: T-17\ndid:example:bob: T-18\n")
    out = tmp_path / "ev.jsonl"
    r = runner.invoke(app, ["badges", "import", str(tmp_path / "a.json"),
                            str(tmp_path / "many.json"), "--out", str(out),
                            "--recipients", str(tmp_path / "who.yaml"),
                            "--objects", str(tmp_path / "cls.json")])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(x["educator_id"], x["competency_id"]) for x in rows} == {
        ("T-17", "REL.FAMILY_COMMUNITY"), ("T-18", "INS.ELL")}
    assert {x["source"] for x in rows} == {"micro_credential"}
    assert "many.json[1]" in r.output and "revoked" in r.output
    assert runner.invoke(app, ["badges", "import", str(tmp_path / "who.yaml"), "--out",
                               str(out)]).exit_code == 2
