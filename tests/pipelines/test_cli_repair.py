"""`pdrec repair`: a dry run changes nothing; a repair exports every row before deleting it."""

from datetime import UTC, datetime

import orjson
from typer.testing import CliRunner

from pipelines.cli import app
from recommender.store import open_store, schema, sqlite_url


def _text(output: str) -> str:
    """The command's output with Rich's line wrapping undone."""
    return " ".join(output.split())


def _seed(data_dir):
    store = open_store(sqlite_url(data_dir))
    store.ensure_tenant("acme")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        for educator in ("T1", "a/b"):
            conn.execute(schema.educators.insert().values(
                tenant_id="acme", educator_id=educator, profile="{}", goals="[]",
                data_version=0, created_at=now, updated_at=now))
        base = {"tenant_id": "acme", "competency_id": "INS.ELL", "source": "observation",
                "score": 3.0, "scale_min": 1.0, "scale_max": 4.0, "score_norm": 2 / 3,
                "proficient": True, "rater_id": None, "activity_id": None, "ingested_us": 0}
        conn.execute(schema.evidence.insert(), [
            {**base, "evidence_id": "good", "educator_id": "T1",
             "observed_us": 1_709_287_200_000_000},
            {**base, "evidence_id": "old", "educator_id": "T1",
             "observed_us": -11_676_096_000_000_000},
            {**base, "evidence_id": "unreachable", "educator_id": "a/b",
             "observed_us": 1_709_287_200_000_000}])
    return store


def test_repair_reports_on_a_dry_run_then_exports_and_moves_rows_aside(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = _seed(tmp_path)
    runner = CliRunner()

    dry = runner.invoke(app, ["repair", "--dry-run", "--data-dir", str(tmp_path)])
    assert dry.exit_code == 0, dry.output
    assert "3 row(s) would be moved aside; nothing changed" in _text(dry.output)
    assert store.count_evidence("acme") == 3 and not (tmp_path / "quarantine").exists()

    out = tmp_path / "moved.jsonl"
    done = runner.invoke(app, ["repair", "--tenant", "acme", "--out", str(out),
                               "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "moved aside 3 row(s)" in _text(done.output)
    assert "deleted: 1 educators, 2 evidence;" in _text(done.output)
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {(d["table"], d["key"]) for d in lines} == {
        ("educators", "a/b"), ("evidence", "old"), ("evidence", "unreachable")}
    old = next(d for d in lines if d["key"] == "old")
    assert old["row"]["observed_us"] == -11_676_096_000_000_000 and old["field"] == "observed_at"
    assert store.count_evidence("acme") == 1
    assert [e.educator_id for e in store.list_educators("acme")] == ["T1"]

    again = runner.invoke(app, ["repair", "--data-dir", str(tmp_path)])
    assert again.exit_code == 0
    assert "no stored row breaks the field contract" in _text(again.output)
    store.dispose()
