"""Benchmark: framework-coded evidence and Open Badges on the way in.

Run with ``python benchmarks/bench_standards_evidence.py [n_records]``. Times, as medians of 5
runs, (1) :func:`recommender.standards.crosswalk.expand_coded_records` on ``n_records`` (default
5,000, the API's batch limit) records coded by Danielson components and InTASC standards (1% with
an unknown code), against the reference measured in the same process: ``validate_evidence`` of
the expanded records, which every batch pays anyway; (2) the cost on an uncoded batch (the common
case's fast path) against validating it; (3) :func:`badges_to_evidence` on ``n_records // 10``
Open Badges 2.0/3.0 badges (hashed recipients, crosswalk alignments, a few revoked/expired)
against validating the records they give.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.evidence import proficient_threshold, validate_evidence
from recommender.graph import default_framework
from recommender.standards.alignments import AlignmentIndex
from recommender.standards.crosswalk import default_crosswalk, expand_coded_records
from recommender.standards.openbadges import badges_to_evidence

N_RUNS = 5


def coded_records(n: int, codes: list[str], seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(codes + ["danielson:9z"], size=n,
                       p=[0.99 / len(codes)] * len(codes) + [0.01])
    return [{"evidence_id": f"obs-{i}", "educator_id": f"T{i % 300}", "framework_code": c,
             "source": "observation", "score": int(rng.integers(1, 5)),
             "observed_at": "2025-03-01T10:00:00Z"} for i, c in enumerate(picks)]


def badges(n: int, codes: list[str]) -> list[dict]:
    out = []
    for i in range(n):
        email = f"t{i}@district.org"
        digest = hashlib.sha256((email + "salt").encode()).hexdigest()
        align = [{"targetCode": codes[i % len(codes)]}, {"targetName": "elsewhere"}]
        if i % 2:
            out.append({"type": "Assertion", "id": f"https://b.example/a/{i}",
                        "recipient": {"type": "email", "hashed": True, "salt": "salt",
                                      "identity": f"sha256${digest}"},
                        "issuedOn": "2025-01-01T00:00:00Z", "revoked": i % 50 == 1,
                        "badge": {"type": "BadgeClass", "id": f"c{i}", "alignment": align}})
        else:
            out.append({"type": ["VerifiableCredential", "OpenBadgeCredential"],
                        "id": f"urn:uuid:{i}", "validFrom": "2025-01-01T00:00:00Z",
                        "validUntil": "2020-01-01T00:00:00Z" if i % 50 == 0 else None,
                        "credentialSubject": {"id": f"did:example:{i}", "achievement": {
                            "id": f"a{i}", "alignment": align}}})
    return out


def main(n: int = 5000) -> None:
    graph = default_framework("educator")
    cw = default_crosswalk(graph)
    codes = [f"{s}:{c}" for s, c in zip(cw.table["scheme"], cw.table["code"], strict=True)]
    codes = list(dict.fromkeys(codes))
    known, at = list(graph), proficient_threshold(graph.graph["scale"])
    records = coded_records(n, codes)
    t_expand, coded = median_time(lambda: expand_coded_records(records, cw), N_RUNS)
    t_valid, _ = median_time(lambda: validate_evidence(coded.records, competencies=known,
                                                       proficient_at=at), N_RUNS)
    print(f"expand {n:,} coded records -> {len(coded.records):,} records "
          f"({len(coded.rejections)} rejected): median {t_expand * 1e3:.1f} ms; validating the "
          f"expanded records {t_valid * 1e3:.1f} ms; ratio {t_expand / t_valid:.2f}")
    plain = [{**r, "competency_id": "INS.ELL"} for r in records]
    for r in plain:
        del r["framework_code"]
    t_plain, _ = median_time(lambda: expand_coded_records(plain, cw), N_RUNS)
    t_pvalid, _ = median_time(lambda: validate_evidence(plain, competencies=known,
                                                        proficient_at=at), N_RUNS)
    print(f"uncoded batch of {n:,}: expansion check {t_plain * 1e3:.2f} ms, validation "
          f"{t_pvalid * 1e3:.1f} ms; ratio {t_plain / t_pvalid:.3f}")
    index = AlignmentIndex(graph, cw)
    batch = badges(n // 10, codes)
    who = {f"t{i}@district.org": f"T{i}" for i in range(n // 10)}
    who.update({f"did:example:{i}": f"T{i}" for i in range(n // 10)})
    t_badges, mapped = median_time(lambda: badges_to_evidence(
        batch, index=index, recipients=who, scale=graph.graph["scale"]), N_RUNS)
    t_bvalid, _ = median_time(lambda: validate_evidence(mapped.records, competencies=known,
                                                        proficient_at=at), N_RUNS)
    print(f"{len(batch):,} badges -> {len(mapped.records):,} records "
          f"({len(mapped.rejections)} rejected): median {t_badges * 1e3:.1f} ms; validating "
          f"their records {t_bvalid * 1e3:.1f} ms; ratio {t_badges / t_bvalid:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
