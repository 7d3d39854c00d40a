"""`pdrec keys create|list|revoke`: the key is printed once and only its hash is stored."""

from typer.testing import CliRunner

from pipelines.cli import app
from recommender.store import hash_key, open_store, sqlite_url


def test_keys_create_list_revoke(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "coach",
                               "--data-dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("pdrec_")
    store = open_store(sqlite_url(tmp_path))
    record = store.key_by_hash(hash_key(secret))
    assert record.tenant_id == "acme" and record.role == "coach"
    listed = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])
    assert record.key_id in listed.output and secret not in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", record.key_id, "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0 and not store.key_by_hash(hash_key(secret)).active
    bad = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "root",
                              "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "role must be one of" in bad.output
    assert runner.invoke(app, ["keys", "revoke", "nope", "--data-dir",
                               str(tmp_path)]).exit_code == 1
    store.dispose()
