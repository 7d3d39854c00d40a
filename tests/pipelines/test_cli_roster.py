"""`pdrec roster import`: counts, the rejection table, --dry-run, bad arguments."""

from typer.testing import CliRunner

from pipelines.cli import app
from recommender.store import open_store, sqlite_url
from tests.standards.roster_factory import USER_COLUMNS, district, user, write_csv


def test_roster_import_prints_counts_and_rejections(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    folder = district(tmp_path / "roster")
    write_csv(folder, "users", USER_COLUMNS, [user("t1", "teacher"), user("t2", "wizard"),
                                              user("s1", "student")])
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["roster", "import", str(folder), "--tenant", "acme",
                                   "--data-dir", str(tmp_path / "data"), *args])

    dry = run("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing written" in dry.output and "unknown role" in dry.output
    assert "users.csv" in dry.output and "wizard" in dry.output
    (tmp_path / "data").mkdir(exist_ok=True)
    store = open_store(sqlite_url(tmp_path / "data"))
    assert store.list_educators("acme") == []
    done = run()
    assert done.exit_code == 0, done.output
    assert "created" in done.output and "non_educators" in done.output
    assert [e.educator_id for e in store.list_educators("acme")] == ["t1"]
    assert store.get_educator("acme", "t1").profile["role"] == "classroom_teacher"
    store.dispose()
    assert run("--id-field", "nickname").exit_code == 2
    missing = runner.invoke(app, ["roster", "import", str(tmp_path / "nope"), "--tenant", "a",
                                  "--data-dir", str(tmp_path / "data")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
