"""Benchmark: import a generated 50,000-user OneRoster 1.1 CSV roster, about 1% of it untidy.

Run with ``python benchmarks/bench_roster.py [n_users]``. The set (written to a temporary folder)
has a manifest, a district with 40 schools, ``n_users`` users (10% staff: teachers, aides,
principals; the rest students), one class per 25 users with grades, five enrollments per student
and two per teacher, and traps: unknown roles, duplicate sourcedIds, unknown orgs, orphan
enrollments. It prints the medians of 3 runs of

- the mapping: :func:`~recommender.standards.oneroster_files.read_roster` and
  :func:`~recommender.standards.oneroster.roster_educators` (every file read and checked);
- the whole import into a new SQLite store (:func:`~recommender.standards.roster_import.
  import_roster`: mapping plus writing every educator), and the same import again (all
  unchanged: the delta path);

and, as the reference measured in the same process, ``pandas.read_csv`` of the same users.csv
and enrollments.csv as text (the parse any importer pays), with the ratios.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.standards.oneroster import roster_educators
from recommender.standards.oneroster_files import read_roster
from recommender.standards.roster_import import import_roster
from recommender.store import open_store, sqlite_url

N_RUNS = 3
GRADES = np.array(["KG", *(f"{g:02d}" for g in range(1, 13))])


def write_roster(folder: Path, n: int, seed: int = 0) -> None:
    """A OneRoster 1.1 bulk set of ``n`` users in ``folder`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    schools = [f"sch{i:03d}" for i in range(40)]
    pd.DataFrame({"propertyName": ["manifest.version", "oneroster.version",
                                   *(f"file.{f}" for f in ("orgs", "users", "classes",
                                                           "enrollments", "courses"))],
                  "value": ["1.0", "1.1", "bulk", "bulk", "bulk", "bulk", "absent"]}
                 ).to_csv(folder / "manifest.csv", index=False)
    pd.DataFrame({"sourcedId": ["dist", *schools], "status": "active", "dateLastModified": "",
                  "name": ["District", *(f"School {s}" for s in schools)],
                  "type": ["district", *["school"] * len(schools)], "identifier": "",
                  "parentSourcedId": ["", *["dist"] * len(schools)]}
                 ).to_csv(folder / "orgs.csv", index=False)
    roles = rng.choice(["student", "teacher", "aide", "principal"], n, p=[0.9, 0.08, 0.015, 0.005])
    sids = np.array([f"u{i:06d}" for i in range(n)], dtype=object)
    orgs = rng.choice(schools, n)
    trap = rng.random(n)
    roles = np.where(trap < 0.003, "wizard", roles)
    orgs = np.where((trap >= 0.003) & (trap < 0.006), "nowhere", orgs)
    sids = np.where((trap >= 0.006) & (trap < 0.01), np.roll(sids, 1), sids)
    pd.DataFrame({"sourcedId": sids, "status": "active",
                  "dateLastModified": "2025-01-10T00:00:00Z", "enabledUser": "true",
                  "orgSourcedIds": orgs, "role": roles, "username": sids, "userIds": "",
                  "givenName": "Given", "familyName": "Family", "middleName": "",
                  "identifier": "", "email": [f"{s}@example.org" for s in sids], "sms": "",
                  "phone": "", "agentSourcedIds": "", "grades": rng.choice(GRADES, n),
                  "password": ""}).to_csv(folder / "users.csv", index=False)
    n_classes = max(n // 25, 1)
    cls = np.array([f"c{i:05d}" for i in range(n_classes)], dtype=object)
    grade = rng.integers(0, len(GRADES), n_classes)
    pd.DataFrame({"sourcedId": cls, "status": "active", "dateLastModified": "",
                  "title": "Class", "grades": GRADES[grade], "courseSourcedId": "",
                  "classCode": "", "classType": "scheduled", "location": "",
                  "schoolSourcedId": rng.choice(schools, n_classes), "termSourcedIds": ""}
                 ).to_csv(folder / "classes.csv", index=False)
    per = np.where(roles == "student", 5, np.where(roles == "teacher", 2, 0))
    users = np.repeat(sids, per)
    classes = rng.choice(cls, len(users)).astype(object)
    classes[rng.random(len(users)) < 0.002] = "orphan"
    pd.DataFrame({"sourcedId": [f"e{i:07d}" for i in range(len(users))], "status": "active",
                  "dateLastModified": "", "classSourcedId": classes, "schoolSourcedId": "",
                  "userSourcedId": users, "role": "student", "primary": "", "beginDate": "",
                  "endDate": ""}).to_csv(folder / "enrollments.csv", index=False)


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "roster"
        folder.mkdir()
        write_roster(folder, n)
        size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e6
        ref, _ = median_time(lambda: (
            pd.read_csv(folder / "users.csv", dtype=str, keep_default_na=False),
            pd.read_csv(folder / "enrollments.csv", dtype=str, keep_default_na=False)), N_RUNS)
        mapped, result = median_time(lambda: roster_educators(read_roster(folder)), N_RUNS)
        stores = [open_store(sqlite_url(Path(tmp) / f"s{i}")) for i in range(N_RUNS)]
        queue = list(stores)
        first, written = median_time(lambda: import_roster(queue.pop(), "bench", folder), N_RUNS)
        again, repeat = median_time(lambda: import_roster(stores[0], "bench", folder), N_RUNS)
        for s in stores:
            s.dispose()
    c = result.counts
    print(f"roster: {n:,} users ({c['educators']:,} educators, {c['non_educators']:,} "
          f"non-educators, {len(result.rejections):,} rows rejected), "
          f"{c['rows.enrollments.csv']:,} enrollments, {size:.1f} MB of CSV")
    print(f"reference pandas.read_csv users+enrollments: {ref:.3f} s (median of {N_RUNS})")
    print(f"read + map (roster_educators):             {mapped:.3f} s  ratio {mapped / ref:.1f}x")
    w = written.counts()
    print(f"import into a new SQLite store:            {first:.3f} s  ratio {first / ref:.1f}x "
          f"({w['created']:,} created)")
    r = repeat.counts()
    print(f"same import again (all unchanged):         {again:.3f} s  ratio {again / ref:.1f}x "
          f"({r['unchanged']:,} unchanged, {r['updated']:,} updated)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
