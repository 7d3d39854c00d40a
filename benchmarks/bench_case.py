"""Benchmark: import a generated 2,000-item CASE 1.0 package, about 2% of it untidy.

Run with ``python benchmarks/bench_case.py [n_items]``. The package has ``n_items`` CFItems in a
tree under 20 top-level items (``isChildOf``), about two ``precedes`` associations per item
(forward in file order, so acyclic), four ``hasSkillLevel`` level items on every 20th item, and a
sprinkling of traps: references given as plain URI strings, sequence numbers as strings,
associations to items outside the package, duplicate items and a three-item ``precedes`` cycle.
It prints the median of 5 runs of :func:`recommender.standards.case.import_case` on the parsed
package and, as a reference measured in the same process, the median of ``json.loads`` of the
same package text (the parse any importer pays), with their ratio; then the export of the
imported framework back to a package.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.graph import build_framework
from recommender.standards.case import import_case
from recommender.standards.case_export import export_case

N_RUNS = 5
BASE = "https://bench.example/ims/case/v1p0"
DOC = "d0000000-0000-4000-8000-000000000000"
WHEN = "2024-01-01T00:00:00+00:00"
LEVELS = ("beginning", "developing", "proficient", "advanced")


def _uid(n: int, kind: str) -> str:
    return f"{kind * 8}-0000-4000-8000-{n:012d}"


def _link(identifier: str, collection: str = "CFItems") -> dict:
    return {"title": identifier[-6:], "identifier": identifier,
            "uri": f"{BASE}/{collection}/{identifier}"}


def _assoc(n: int, atype: str, origin: dict | str, dest: dict | str, **extra) -> dict:
    ident = _uid(n, "a")
    return {"identifier": ident, "uri": f"{BASE}/CFAssociations/{ident}", "associationType": atype,
            "lastChangeDateTime": WHEN, "originNodeURI": origin, "destinationNodeURI": dest,
            **extra}


def make_package(n: int, seed: int = 0) -> dict:
    """A CFPackage of ``n`` items (level items included) with its associations and traps."""
    rng = np.random.default_rng(seed)
    n_levelled = n // 25
    n_comp = n - 4 * n_levelled
    ids = [_uid(i, "0") for i in range(n_comp)]
    items = [{"identifier": ids[i], "uri": f"{BASE}/CFItems/{ids[i]}", "lastChangeDateTime": WHEN,
              "humanCodingScheme": f"B.{i // 100}.{i % 100}", "fullStatement": f"Statement {i}",
              "abbreviatedStatement": f"Competency {i}"} for i in range(n_comp)]
    parents = np.where(np.arange(n_comp) < 20, -1, rng.integers(0, np.maximum(np.arange(n_comp),
                                                                               1)))
    assocs = [_assoc(i, "isChildOf", _link(ids[i]),
                     _link(DOC, "CFDocuments") if p < 0 else _link(ids[p]),
                     sequenceNumber=str(i) if i % 50 == 0 else i)
              for i, p in enumerate(parents.tolist())]
    sources = rng.integers(0, n_comp - 1, 2 * n_comp)
    targets = sources + 1 + rng.integers(0, np.maximum(n_comp - 1 - sources, 1))
    for u, v in zip(sources.tolist(), np.minimum(targets, n_comp - 1).tolist(), strict=True):
        origin = _link(ids[u])["uri"] if len(assocs) % 40 == 0 else _link(ids[u])
        assocs.append(_assoc(len(assocs), "precedes", origin, _link(ids[v])))
    for k, comp in enumerate(range(0, n_comp, max(n_comp // n_levelled, 1))[:n_levelled]):
        for position, level in enumerate(LEVELS, start=1):
            ident = _uid(k * 4 + position, "c")
            items.append({"identifier": ident, "uri": f"{BASE}/CFItems/{ident}",
                          "lastChangeDateTime": WHEN, "fullStatement": f"{level} at {comp}",
                          "abbreviatedStatement": level})
            assocs.append(_assoc(len(assocs), "hasSkillLevel", _link(ids[comp]), _link(ident),
                                 sequenceNumber=position))
    for k in range(n // 100):  # traps: outside references and duplicate items
        assocs.append(_assoc(len(assocs), "precedes", _link(ids[k]), _link(_uid(k, "f"))))
        items.append({**items[k], "fullStatement": "a duplicate"})
    for u, v in ((n_comp - 3, n_comp - 2), (n_comp - 2, n_comp - 1), (n_comp - 1, n_comp - 3)):
        assocs.append(_assoc(len(assocs), "precedes", _link(ids[u]), _link(ids[v])))
    return {"CFDocument": {"identifier": DOC, "uri": f"{BASE}/CFDocuments/{DOC}",
                           "creator": "bench", "title": "Bench framework",
                           "lastChangeDateTime": WHEN},
            "CFItems": items, "CFAssociations": assocs}


def main(n: int = 2_000) -> None:
    package = make_package(n)
    text = json.dumps(package)
    print(f"package: {len(package['CFItems']):,} CFItems, {len(package['CFAssociations']):,} "
          f"CFAssociations, {len(text) / 1e6:.1f} MB of JSON")
    t_import, result = median_time(lambda: import_case(package), N_RUNS)
    t_parse, _ = median_time(lambda: json.loads(text), N_RUNS)
    t_read, _ = median_time(lambda: import_case(json.loads(text)), N_RUNS)
    graph = build_framework(result.framework)
    t_export, exported = median_time(lambda: export_case(graph), N_RUNS)
    print(f"import_case: median of {N_RUNS} runs {t_import:.3f} s; "
          f"{graph.number_of_nodes():,} competencies, {graph.number_of_edges():,} prerequisites, "
          f"skipped {result.report.counts_by_reason()}")
    print(f"reference json.loads of the same text: median {t_parse:.3f} s; "
          f"ratio import/parse = {t_import / t_parse:.1f}x")
    print(f"parse + import (what `pdrec framework import-case` pays): median {t_read:.3f} s")
    print(f"export_case of the imported framework: median {t_export:.3f} s "
          f"({len(exported['CFItems']):,} CFItems)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000)
