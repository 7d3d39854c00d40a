"""What resolving a tenant's content costs a request (issue 15 item 1).

Per request the API asks :meth:`api.content.ContentService.for_tenant` which framework and
catalog the caller's tenant is served. Measured on a SQLite store with one tenant on its own
content (a 40-competency framework, 120 activities) and one on the default:

- a hit: the tenant's versions read less than ``CHECK_SECONDS`` ago and its content built (the
  hot path), against a plain dict lookup, the reference;
- a version check: the versions read again from the store (one indexed read, no documents),
  content already built: what a request pays once per tenant per ``CHECK_SECONDS``;
- a cold build: the documents read and loaded (framework, catalog), once per (tenant,
  versions) per process;
- adapting the served model state to the content (:meth:`ContentService.serve`), cached.

Run: ``python benchmarks/bench_tenant_content.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import median_time  # noqa: E402


def _documents(n_comp: int = 40, n_act: int = 120) -> tuple[dict, dict]:
    comps = [{"id": f"C{i:03d}", "name": f"C{i}", "domain": f"d{i % 4}",
              "prerequisites": [f"C{i - 1:03d}"] if i % 5 else []} for i in range(n_comp)]
    acts = [{"id": f"A{j:04d}", "title": f"A{j}", "format": "course", "modality": "online",
             "level": "developing", "hours": 1 + j % 9, "expected_gain": 0.1,
             "competencies": {f"C{j % n_comp:03d}": 1.0}} for j in range(n_act)]
    return {"name": "bench", "competencies": comps}, {"activities": acts}


def main() -> None:
    from api.content import ContentService
    from api.services import ModelState
    from recommender.ranking import prepare
    from recommender.store import open_store
    from recommender.tenant_content import default_content, resolve_content, upload

    n = 20000
    with tempfile.TemporaryDirectory(prefix="pdrec-bench-content-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'pdrec.db'}")
        default = default_content("educator", None)
        framework, catalog = _documents()
        upload(store, "acme", default, framework=framework, catalog=catalog)
        service = ContentService(store, default, fallback=ModelState,
                                 index_builder=lambda c, g: prepare(c.graph, c.catalog, g),
                                 estimator_builder=lambda c, s: None)
        service.for_tenant("acme")
        table = {"acme": service.for_tenant("acme")}

        def hits():
            for _ in range(n):
                service.for_tenant("acme")

        def reference():
            for _ in range(n):
                table.get("acme")

        def checks():
            for _ in range(200):
                service.forget("acme")
                service.for_tenant("acme")

        state = ModelState()
        content = service.for_tenant("acme")
        service.serve(content, state)

        def served():
            for _ in range(n):
                service.serve(content, state)

        hit, _ = median_time(hits, runs=5)
        ref, _ = median_time(reference, runs=5)
        check, _ = median_time(checks, runs=5)
        serve, _ = median_time(served, runs=5)
        cold, _ = median_time(lambda: resolve_content(store, "acme", default), runs=5)
        store.dispose()
    print(f"content hit (cached, {n} calls):     {hit / n * 1e6:8.2f} us/request "
          f"(dict lookup {ref / n * 1e6:.3f} us: x{hit / ref:.0f})")
    print(f"version check (store read, cached):  {check / 200 * 1e6:8.1f} us "
          f"(once per tenant per CHECK_SECONDS)")
    print(f"model state adapted (cached):        {serve / n * 1e6:8.2f} us/request")
    print(f"cold build (40 competencies, 120 activities): {cold * 1e3:.1f} ms "
          "(once per tenant and versions per process)")


if __name__ == "__main__":
    main()
