"""Small OneRoster CSV sets for tests: a tidy district and the untidy rows the importer meets."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

USER_COLUMNS = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds",
                "role", "username", "userIds", "givenName", "familyName", "middleName",
                "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password"]


def write_csv(folder: Path, name: str, header: list[str], rows: list[dict]) -> None:
    with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow(row)


def manifest(folder: Path, modes: dict[str, str]) -> None:
    rows = [{"propertyName": "manifest.version", "value": "1.0"},
            {"propertyName": "oneroster.version", "value": "1.1"},
            *({"propertyName": f"file.{k}", "value": v} for k, v in modes.items())]
    write_csv(folder, "manifest", ["propertyName", "value"], rows)


def user(sid: str, role: str, org: str = "sch1", **kw) -> dict:
    return {"sourcedId": sid, "status": "active", "dateLastModified": "2025-01-10T00:00:00Z",
            "enabledUser": "true", "orgSourcedIds": org, "role": role, "username": sid,
            "givenName": "G", "familyName": "F", "email": f"{sid}@example.org", **kw}


def district(folder: Path) -> Path:
    """A tidy bulk set: a district, two schools, 4 teachers, an aide, a principal, 3 students,
    a parent; classes in grades 3, 7, 7-8 and 10; enrollments for all of them."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest(folder, {"orgs": "bulk", "users": "bulk", "classes": "bulk", "enrollments": "bulk",
                      "courses": "absent", "academicSessions": "absent"})
    write_csv(folder, "orgs", ["sourcedId", "status", "dateLastModified", "name", "type",
                               "identifier", "parentSourcedId"], [
        {"sourcedId": "dist", "name": "District", "type": "district"},
        {"sourcedId": "sch1", "name": "Elm Elementary", "type": "school",
         "parentSourcedId": "dist"},
        {"sourcedId": "sch2", "name": "Oak High", "type": "school", "parentSourcedId": "dist"}])
    write_csv(folder, "users", USER_COLUMNS, [
        user("t1", "teacher"), user("t2", "teacher", org="dist,sch2"), user("t3", "Teacher"),
        user("t4", "teacher", org="sch2", grades="11"), user("a1", "aide"),
        user("p1", "principal", grades="KG,01"), user("s1", "student"), user("s2", "student"),
        user("s3", "student"), user("g1", "parent")])
    write_csv(folder, "classes", ["sourcedId", "status", "dateLastModified", "title", "grades",
                                  "courseSourcedId", "classCode", "classType", "location",
                                  "schoolSourcedId", "termSourcedIds"], [
        {"sourcedId": "c3", "title": "Grade 3", "grades": "03", "schoolSourcedId": "sch1"},
        {"sourcedId": "c7", "title": "Math 7", "grades": "07", "schoolSourcedId": "sch1"},
        {"sourcedId": "c78", "title": "Sci 7-8", "grades": "07,08", "schoolSourcedId": "sch1"},
        {"sourcedId": "c10", "title": "Bio", "grades": "10", "schoolSourcedId": "sch2"}])
    enr = [("t1", "c7"), ("t1", "c78"), ("t1", "c3"), ("t2", "c10"), ("t3", "c3"),
           ("a1", "c3"), ("s1", "c3"), ("s2", "c7")]
    write_csv(folder, "enrollments", ["sourcedId", "status", "dateLastModified",
                                      "classSourcedId", "schoolSourcedId", "userSourcedId",
                                      "role", "primary"],
              [{"sourcedId": f"e{i}", "classSourcedId": c, "userSourcedId": u,
                "role": "student" if u.startswith("s") else "teacher"}
               for i, (u, c) in enumerate(enr)])
    return folder


def zipped(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.glob("*.csv")):
            zf.write(p, f"export/{p.name}")
    return buf.getvalue()
