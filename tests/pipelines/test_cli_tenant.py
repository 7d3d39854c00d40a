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
