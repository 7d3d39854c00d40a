"""`pdrec framework import-case|export-case`: files written, report printed, info loads them."""

import json

from typer.testing import CliRunner

from pipelines.cli import app
from recommender.graph import load_framework
from tests.standards.case_factory import assoc, chain_package, uid

runner = CliRunner()


def test_import_case_writes_a_framework_info_loads_and_prints_the_report(tmp_path):
    pkg = chain_package(["A", "B", "C"], [("A", "B"), ("B", "C"), ("C", "B")])
    pkg["CFAssociations"].append(assoc(uid(1, "c"), "precedes", uid(1), uid(77)))
    (tmp_path / "pkg.json").write_text(json.dumps(pkg))
    out, report = tmp_path / "fw.yaml", tmp_path / "report.json"
    result = runner.invoke(app, ["framework", "import-case", str(tmp_path / "pkg.json"),
                                 "--out", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "precedes cycle" in result.output and "points outside the package" in result.output
    assert "Skipped, per reason" in result.output
    graph = load_framework(out)
    assert sorted(graph.nodes) == ["A", "B", "C"] and list(graph.edges) == [("A", "B")]
    assert json.loads(report.read_text())["skipped_by_reason"] == {
        "precedes cycle": 2, "points outside the package": 1}
    info = runner.invoke(app, ["info", "--framework", str(out)])
    assert info.exit_code == 0, info.output
    assert "competencies" in info.output


def test_import_case_map_option_and_failures(tmp_path):
    pkg = chain_package(["A", "B"], [])
    pkg["CFAssociations"].append(assoc(uid(1, "c"), "isRelatedTo", uid(1), uid(2)))
    (tmp_path / "pkg.json").write_text(json.dumps(pkg))
    out = tmp_path / "fw.json"
    mapped = runner.invoke(app, ["framework", "import-case", str(tmp_path / "pkg.json"), "--out",
                                 str(out), "--map", "isRelatedTo=prerequisite"])
    assert mapped.exit_code == 0, mapped.output
    assert list(load_framework(out).edges) == [("A", "B")]
    bad_map = runner.invoke(app, ["framework", "import-case", str(tmp_path / "pkg.json"),
                                  "--out", str(out), "--map", "isRelatedTo"])
    assert bad_map.exit_code == 2 and "TYPE=ROLE" in bad_map.output
    (tmp_path / "empty.json").write_text("[1, 2]")
    empty = runner.invoke(app, ["framework", "import-case", str(tmp_path / "empty.json"),
                                "--out", str(tmp_path / "x.yaml")])
    assert empty.exit_code == 1 and "nothing could be imported" in empty.output
    assert not (tmp_path / "x.yaml").exists()


def test_export_case_default_and_file_round_trip(tmp_path):
    package = tmp_path / "educator.json"
    result = runner.invoke(app, ["framework", "export-case", "--out", str(package)])
    assert result.exit_code == 0, result.output
    exported = json.loads(package.read_text())
    assert exported["CFDocument"]["title"] and len(exported["CFItems"]) > 42
    back = tmp_path / "educator.yaml"
    imported = runner.invoke(app, ["framework", "import-case", str(package), "--out", str(back)])
    assert imported.exit_code == 0, imported.output
    again = tmp_path / "again.json"
    result = runner.invoke(app, ["framework", "export-case", "--framework", str(back),
                                 "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert json.loads(again.read_text())["CFDocument"]["identifier"] == \
        exported["CFDocument"]["identifier"]
    missing = runner.invoke(app, ["framework", "export-case", "--framework",
                                  str(tmp_path / "nope.yaml"), "--out", str(again)])
    assert missing.exit_code == 2
