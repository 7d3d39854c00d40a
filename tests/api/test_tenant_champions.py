"""Per-tenant champions (issue 20 item 2): ``pdrec promote VERSION --tenant T`` sets the alias
``champion-T``; the API serves each tenant its own champion, else the default one, else the graph
rule, and says which in ``model.scope``.

One tiny LightGBM model is trained on a small synthetic cohort and registered twice (versions
1 and 2 of ``mastery``) in a throwaway MLflow store, as in ``test_model_serving``.
"""

from __future__ import annotations

import pytest

from api.services import ModelService, ModelState
from tests.api.conftest import record, running_api
from tests.api.registry import mastery_registry


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """A data dir whose MLflow registry holds 'mastery' versions 1 and 2, no alias."""
    root = tmp_path_factory.mktemp("tenant-registry")
    with mastery_registry(root, versions=2, educators=40, months=3, seed=5,
                          n_estimators=8) as versions:
        assert versions == ["1", "2"]
        yield root


def _cli(*args):
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _models(api) -> dict[str, dict]:
    """The ``model`` field of every endpoint that uses the model, for tenants acme and other."""
    out = {}
    for tenant, who in (("acme", "platform"), ("other", "other")):
        seen = [
            api.post("/v1/evidence", json={"records": [record(len(out) + 7, day=2)]},
                     who=who).json()["model"],
            api.get("/v1/educators/T1/recommendations", who=who).json()["model"],
            api.get("/v1/educators/T1/mastery", who=who).json()["model"],
            api.get("/v1/educators/T1/pathway", params={"goal": "INS.FORMATIVE"},
                    who=who).json()["model"],
            api.post("/v1/recommendations:batch", json={"educator_ids": ["T1"]},
                     who=who).json()["model"],
        ]
        assert all(m == seen[0] for m in seen), seen
        card = seen[0].pop("card")  # the served version's card (test_model_serving checks it)
        assert card is not None and card["data"]["kind"] == "synthetic", card
        assert seen[0].pop("source") == "registry"  # read from the MLflow registry
        content = seen[0].pop("content")  # both tenants are on the default content
        assert seen[0].pop("note") is None and content["framework"]["source"] == "default"
        out[tenant] = seen[0]
    return out


def test_each_tenant_is_served_its_own_champion_or_the_default(two_versions, tmp_path):
    from pipelines import tracking
    from pipelines.app import champion_loader, tenant_champion_loader

    root = two_versions
    tracking.configure(root)
    _cli("promote", "1", "--data-dir", str(root))
    _cli("promote", "2", "--tenant", "acme", "--data-dir", str(root))
    with running_api(tmp_path / "api", model_loader=champion_loader(root),
                     tenant_loader=tenant_champion_loader(root)) as api:
        for who in ("platform", "other"):
            api.post("/v1/evidence", json={"records": [record(1), record(2, score=1)]}, who=who)
        models = _models(api)
        assert models["acme"] == {"name": "lightgbm", "version": "2", "fallback": False,
                                  "scope": "tenant"}
        assert models["other"] == {"name": "lightgbm", "version": "1", "fallback": False,
                                   "scope": "default"}
        store = api.services.store
        assert store.get_mastery("acme", ["T1"])["T1"].model_key == "lightgbm:2@m3"
        assert store.get_mastery("other", ["T1"])["T1"].model_key == "lightgbm:1@m3"
        assert api.client.get("/readyz").json()["model"]["tenant_models"] == 1

        # promoting for 'other' changes nothing until a reload, then only 'other'
        _cli("promote", "2", "--tenant", "other", "--data-dir", str(root))
        assert _models(api)["other"]["scope"] == "default"
        r = api.post("/v1/admin/model:reload", who="admin")
        assert r.status_code == 200, r.text
        assert r.json()["model"]["scope"] == "tenant" and r.json()["default"]["version"] == "1"
        models = _models(api)
        assert models["other"] == {"name": "lightgbm", "version": "2", "fallback": False,
                                   "scope": "tenant"}
        assert models["acme"]["version"] == "2" and models["acme"]["scope"] == "tenant"

        # compare shows who holds which alias
        table = tracking.compare_runs()
        assert dict(zip(table["version"], table["aliases"], strict=True)) == {
            "1": "champion", "2": "champion-acme,champion-other"}

        # clearing acme's champion serves it the default again after a reload, and its
        # stored mastery is recomputed by the default model on the next read
        assert "was version 2" in _cli("promote", "--tenant", "acme", "--clear",
                                        "--data-dir", str(root))
        r = api.post("/v1/admin/model:reload", who="admin").json()
        assert r["previous"]["scope"] == "tenant" and r["model"]["scope"] == "default"
        models = _models(api)
        assert models["acme"] == {"name": "lightgbm", "version": "1", "fallback": False,
                                  "scope": "default"}
        assert models["other"]["scope"] == "tenant"
        assert store.get_mastery("acme", ["T1"])["T1"].model_key == "lightgbm:1@m3"


def test_promote_checks_the_tenant_and_the_arguments(two_versions):
    from typer.testing import CliRunner

    from pipelines import tracking
    from pipelines.cli import app

    tracking.configure(two_versions)
    with pytest.raises(ValueError, match="cannot name a model alias"):
        tracking.promote("1", tenant="acme corp")
    runner = CliRunner()
    assert runner.invoke(app, ["promote", "--data-dir", str(two_versions)]).exit_code != 0
    assert runner.invoke(app, ["promote", "1", "--clear", "--tenant", "x",
                               "--data-dir", str(two_versions)]).exit_code != 0
    assert "had none" in _cli("promote", "--tenant", "nobody", "--clear",
                              "--data-dir", str(two_versions))


def test_tenant_models_load_once_are_bounded_and_reload_together():
    calls = []
    owners = {"a", "b", "c"}

    def tenant_loader(tenant):
        calls.append(tenant)
        return (ModelState(predictor=object(), name="m", version=tenant)
                if tenant in owners else None)

    models = ModelService(lambda: ModelState(predictor=object(), name="m", version="0"),
                          tenant_loader=tenant_loader, max_tenants=2)
    models.reload()
    assert models.for_tenant("a").info()["scope"] == "tenant"
    assert models.for_tenant("z").info() == {"name": "m", "version": "0", "fallback": False,
                                             "scope": "default", "source": None, "card": None,
                                             "note": None, "content": None}
    for t in ("a", "z", "a", "z"):
        models.for_tenant(t)
    assert calls == ["a", "z"]  # each tenant asked once, with or without a champion
    models.for_tenant("b")
    models.for_tenant("a")  # 'a' used last: 'b' is the one evicted by 'c'
    models.for_tenant("c")
    assert models.tenant_models == 2 and models.known("b") is None
    assert models.known("a").version == "a"
    calls.clear()
    models.reload()
    assert sorted(calls) == ["a", "c"]  # kept tenant models reload; 'z' is asked again later
    assert models.known("z") is None and models.for_tenant("z").info()["scope"] == "default"
    off = ModelService(lambda: ModelState(), tenant_loader=tenant_loader, max_tenants=0)
    off.reload()
    assert off.for_tenant("a").info()["scope"] == "none"
