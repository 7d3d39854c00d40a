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


def test_an_educator_key_is_created_for_an_educator_of_the_tenant(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = open_store(sqlite_url(tmp_path))
    store.ensure_tenant("acme")
    store.put_educator("acme", "E123", profile={}, goals=[])
    runner = CliRunner()
    args = ["keys", "create", "--tenant", "acme", "--data-dir", str(tmp_path)]
    made = runner.invoke(app, [*args, "--role", "educator", "--educator", "E123"])
    assert made.exit_code == 0, made.output
    assert "educator E123" in made.output
    record = store.key_by_hash(hash_key(made.output.strip().splitlines()[-1]))
    assert record.role == "educator" and record.educator_id == "E123"
    listed = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])
    assert "E123" in listed.output
    for extra, words in ((["--role", "educator", "--educator", "E999"], "no educator 'E999'"),
                         (["--role", "educator"], "an educator key needs"),
                         (["--role", "coach", "--educator", "E123"], "educator must be empty")):
        bad = runner.invoke(app, [*args, *extra])
        assert bad.exit_code == 2 and words in bad.output, bad.output
    assert len(store.list_keys("acme")) == 1
    store.dispose()
