"""`pdrec tenant clock`: shows, sets and clears a tenant's evidence clock in the store."""

from typer.testing import CliRunner

from pipelines.cli import app
from recommender.store import open_store, sqlite_url


def test_tenant_clock_show_set_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["tenant", "clock", *args, "--data-dir", str(tmp_path)])

    shown = run("acme")
    assert shown.exit_code == 0, shown.output
    assert "acme: half-life 60 days (default)" in shown.output
    set_ = run("acme", "--unit", "minutes", "--half-life", "30")
    assert set_.exit_code == 0 and "acme: half-life 30 minutes" in set_.output
    store = open_store(sqlite_url(tmp_path))
    assert store.evidence_clock("acme") == ("minutes", 30.0)
    bad = run("acme", "--unit", "weeks")
    assert bad.exit_code == 2 and "--unit" in bad.output and "'weeks'" in bad.output
    bad = run("acme", "--unit", "hours", "--half-life", "0")
    assert bad.exit_code == 2 and "--half-life" in bad.output
    assert run("acme", "--clear", "--unit", "days").exit_code == 2
    assert store.evidence_clock("acme") == ("minutes", 30.0)  # refused changes change nothing
    cleared = run("acme", "--clear")
    assert cleared.exit_code == 0 and "(default)" in cleared.output
    assert store.evidence_clock("acme") is None
    store.dispose()


def test_tenant_framework_and_catalog_uploads_are_checked_and_versioned(tmp_path, monkeypatch):
    import json

    import yaml

    from tests.api.test_tenant_content import CATALOG, FRAMEWORK

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PDREC_FRAMEWORK", raising=False)
    monkeypatch.delenv("PDREC_CATALOG", raising=False)
    (tmp_path / "fw.yaml").write_text(yaml.safe_dump(FRAMEWORK), encoding="utf-8")
    (tmp_path / "cat.json").write_text(json.dumps(CATALOG), encoding="utf-8")
    store = open_store(sqlite_url(tmp_path))
    store.ensure_tenant("acme")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["tenant", *args, "--data-dir", str(tmp_path)])

    alone = run("framework", "acme", str(tmp_path / "fw.yaml"))
    assert alone.exit_code == 2 and "catalog: nothing stored" in alone.output, alone.output
    bad = run("catalog", "acme", str(tmp_path / "cat.json"))  # against the default framework
    assert bad.exit_code == 2 and "D.PLAN" in bad.output
    assert run("framework", "acme", str(tmp_path / "fw.yaml"), "--map", "nope").exit_code == 2
    ok = run("framework", "acme", str(tmp_path / "fw.yaml"), "--catalog",
             str(tmp_path / "cat.json"), "--map", "COG.DATA_LIT=D.ASSESS")
    assert ok.exit_code == 0, ok.output
    assert "stored catalog version 1, framework version 1" in ok.output
    again = run("catalog", "acme", str(tmp_path / "cat.json"))
    assert again.exit_code == 0 and "catalog version 2" in again.output
    assert store.active_content("acme")["catalog"][0] == 2
    stored = store.content_version("acme", "framework").document
    assert {c["id"]: c.get("replaces") for c in stored["competencies"]}["D.ASSESS"] == [
        "COG.DATA_LIT"]
    listed = run("content", "acme")
    assert listed.exit_code == 0 and "catalog *2" in listed.output and "framework *1" in listed.output
    assert run("content", "other").output.count("default") == 2
    store.dispose()


def test_tenant_framework_takes_a_case_package_directly(tmp_path, monkeypatch):
    from pathlib import Path

    import recommender

    district = Path(recommender.__file__).parent / "data" / "demo_district"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PDREC_FRAMEWORK", raising=False)
    monkeypatch.delenv("PDREC_CATALOG", raising=False)
    store = open_store(sqlite_url(tmp_path))
    store.ensure_tenant("district")
    result = CliRunner().invoke(app, ["tenant", "framework", "district",
                                      str(district / "case_framework.json"), "--catalog",
                                      str(district / "catalog.yaml"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "CASE package" in result.output and "nothing skipped" in result.output
    assert "framework version 1" in result.output
    stored = store.content_version("district", "framework")
    assert len(stored.document["competencies"]) == 12
    empty = tmp_path / "empty.json"
    empty.write_text('{"CFDocument": {"identifier": "d"}, "CFItems": []}')
    nothing = CliRunner().invoke(app, ["tenant", "framework", "district", str(empty),
                                       "--data-dir", str(tmp_path)])
    assert nothing.exit_code == 2 and "nothing stored" in nothing.output
