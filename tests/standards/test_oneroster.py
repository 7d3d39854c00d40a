"""OneRoster import: the shared samples, a tidy district, untidy rows, delta files, the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.standards.oneroster import roster_educators
from recommender.standards.oneroster_files import read_roster
from recommender.standards.roster_import import import_roster
from recommender.store import open_store, sqlite_url
from tests.standards.roster_factory import (
    USER_COLUMNS,
    district,
    manifest,
    user,
    write_csv,
    zipped,
)

SHARED = Path(__file__).resolve().parents[3] / "shared/data/standards/oneroster"
SETS = sorted(p.name for p in SHARED.iterdir() if p.is_dir()) if SHARED.is_dir() else []


def _accounted(result) -> None:
    """Every users.csv row is an educator, a counted non-educator or a rejection, once."""
    n = result.counts.get("rows.users.csv", 0)
    rejected = result.rejections[result.rejections["file"] == "users.csv"]
    assert len(result.educators) + result.counts["non_educators"] + len(rejected) == n
    lines = pd.concat([result.educators["line"], rejected["line"]])
    assert lines.is_unique


@pytest.mark.skipif(not SETS, reason="shared OneRoster samples not present")
@pytest.mark.parametrize("name", SETS)
def test_shared_samples_import_or_are_rejected_row_by_row(name):
    files = read_roster(SHARED / name)
    result = roster_educators(files)
    _accounted(result)
    if name.endswith("oneroster-example-csv"):  # header-only bulk files, a file marked absent
        assert files.version == "1.1" and result.educators.empty
        assert "demographics" not in files.frames
        assert any(f == "demographics.csv" and "absent" in n for f, n in result.notes)
    else:  # no manifest; a parent, two students and a 1.2 principal
        assert any(f == "manifest.csv" for f, _ in result.notes)
        assert result.counts["non_educators"] == 3
        (row,) = result.educators.itertuples()
        assert (row.role, row.roster_role, row.grade_band) == ("administrator", "principal",
                                                                "elementary")
        assert row.school_name == "Fredy VonRueden Academy of Arts and Sciences"


def test_a_tidy_district_maps_role_school_and_grade_band(tmp_path):
    result = roster_educators(read_roster(district(tmp_path / "d")))
    assert result.rejections.empty and result.counts["non_educators"] == 4
    got = result.educators.set_index("educator_id")
    assert got.loc["t1", ["role", "school", "grade_band"]].tolist() == [
        "classroom_teacher", "sch1", "middle"]  # two middle classes beat one elementary
    assert got.loc["t2", ["school", "school_name", "grade_band"]].tolist() == [
        "sch2", "Oak High", "high"]  # first org that is a school; the district is skipped
    assert got.loc["t3", "role"] == "classroom_teacher"  # "Teacher": roles ignore case
    assert got.loc["t4", "grade_band"] == "high"  # no classes: the user's own grades
    assert got.loc["a1", "role"] == "paraprofessional"
    assert got.loc["p1", ["role", "grade_band"]].tolist() == ["administrator", "elementary"]


def test_a_zip_reads_like_the_folder(tmp_path):
    folder = district(tmp_path / "d")
    a = roster_educators(read_roster(folder)).educators
    b = roster_educators(read_roster(zipped(folder))).educators
    pd.testing.assert_frame_equal(a, b)


def test_untidy_rows_are_reported_with_file_line_and_reason(tmp_path):
    folder = district(tmp_path / "d")
    write_csv(folder, "users", USER_COLUMNS, [
        user("t1", "teacher"),
        user("t1", "teacher", dateLastModified="2025-02-01"),  # later: kept, line 2 reported
        user("", "teacher"),
        user("t5", "wizard"),
        user("t6", "teacher", status="inactive"),
        user("t7", "teacher", org="nowhere"),
        user("t8", "teacher", dateLastModified="yesterday"),
        user("t/9", "teacher"),
        user("s1", "student")])
    write_csv(folder, "enrollments", ["sourcedId", "classSourcedId", "userSourcedId", "role"], [
        {"sourcedId": "e1", "classSourcedId": "c3", "userSourcedId": "t1", "role": "teacher"},
        {"sourcedId": "e2", "classSourcedId": "c99", "userSourcedId": "t1", "role": "teacher"},
        {"sourcedId": "e3", "classSourcedId": "c3", "userSourcedId": "ghost", "role": "teacher"},
        {"sourcedId": "e3", "classSourcedId": "c7", "userSourcedId": "t1", "role": "teacher"}])
    result = roster_educators(read_roster(folder), now="2025-06-01")
    _accounted(result)
    rej = result.rejections.set_index(["file", "line"])
    assert rej.loc[("users.csv", 2), "reason"].startswith("duplicate sourcedId: line 3")
    assert rej.loc[("users.csv", 4), "reason"] == "missing required field sourcedId"
    assert rej.loc[("users.csv", 5), "reason"].startswith("unknown role")
    assert rej.loc[("users.csv", 6), "reason"].startswith("bad status")
    assert rej.loc[("users.csv", 7), ["value", "reason"]].tolist() == [
        "nowhere", "unknown org: not in orgs.csv"]
    assert "ISO 8601" in rej.loc[("users.csv", 8), "reason"]
    assert "'/'" in rej.loc[("users.csv", 9), "reason"]
    assert rej.loc[("enrollments.csv", 3), "reason"] == "unknown class: not in classes.csv"
    assert rej.loc[("enrollments.csv", 4), "reason"] == "unknown user: not in users.csv"
    assert rej.loc[("enrollments.csv", 5), "reason"].startswith("duplicate sourcedId")
    assert result.educators["educator_id"].tolist() == ["t1"]


def test_roles_from_a_1_2_roles_file(tmp_path):
    folder = district(tmp_path / "d")
    cols = [c for c in USER_COLUMNS if c not in ("role", "orgSourcedIds")]
    write_csv(folder, "users", [*cols, "primaryOrgSourcedId"], [
        {**user("t1", ""), "primaryOrgSourcedId": "sch2"}, user("t2", ""), user("s1", "")])
    write_csv(folder, "roles", ["sourcedId", "userSourcedId", "roleType", "role",
                                "orgSourcedId"], [
        {"sourcedId": "r1", "userSourcedId": "t1", "roleType": "secondary", "role": "aide",
         "orgSourcedId": "sch1"},
        {"sourcedId": "r2", "userSourcedId": "t1", "roleType": "primary", "role": "teacher",
         "orgSourcedId": "sch1"},
        {"sourcedId": "r3", "userSourcedId": "s1", "roleType": "primary", "role": "student",
         "orgSourcedId": "sch1"}])
    manifest(folder, {"orgs": "bulk", "users": "bulk", "roles": "bulk", "classes": "bulk",
                      "enrollments": "bulk"})
    result = roster_educators(read_roster(folder))
    got = result.educators.set_index("educator_id")
    assert got.loc["t1", ["role", "school"]].tolist() == ["classroom_teacher", "sch2"]
    assert result.counts["non_educators"] == 1
    assert result.rejections.set_index("sourced_id").loc["t2", "reason"] == \
        "missing required field role"


def test_delta_updates_without_duplicating_and_keeps_goals(tmp_path):
    store = open_store(sqlite_url(tmp_path))
    try:
        first = import_roster(store, "acme", district(tmp_path / "d"))
        assert first.counts()["created"] == 6
        store.put_educator("acme", "t1", profile={
            **store.get_educator("acme", "t1").profile, "subject": "math"}, goals=["G1"])
        version = store.get_educator("acme", "t3").data_version
        assert import_roster(store, "acme", tmp_path / "d").counts()["unchanged"] == 6
        assert store.get_educator("acme", "t3").data_version == version  # nothing changed
        delta = tmp_path / "delta"
        delta.mkdir()
        manifest(delta, {"users": "delta", "orgs": "absent"})
        write_csv(delta, "users", USER_COLUMNS, [
            user("t1", "aide", dateLastModified="2025-03-01T00:00:00Z"),
            user("t2", "teacher", status="tobedeleted", dateLastModified="2025-03-01"),
            user("t3", "teacher", dateLastModified="2024-01-01"),  # older than stored: stale
            user("t9", "teacher", status="", dateLastModified="2025-03-01"),
            user("n1", "teacher", dateLastModified="2025-03-01")])
        result = import_roster(store, "acme", delta)
        counts = result.counts()
        assert (counts["created"], counts["updated"], counts["stale"],
                counts["marked_tobedeleted"]) == (1, 1, 1, 1)
        assert set(result.rejections["sourced_id"]) == {"t3", "t9"}
        t1 = store.get_educator("acme", "t1")
        assert t1.goals == ["G1"] and t1.profile["subject"] == "math"
        assert t1.profile["role"] == "paraprofessional" and t1.profile["school"] == "sch1"
        assert store.get_educator("acme", "t2").profile["roster_status"] == "tobedeleted"
        again = import_roster(store, "acme", delta).counts()  # replayed: nothing new
        assert (again["created"], again["updated"], again["stale"]) == (0, 0, 1)
        assert len(store.list_educators("acme", limit=100)) == 7
        assert store.list_educators("other") == []
    finally:
        store.dispose()


_ROLES = st.sampled_from(["teacher", "aide", "student", "parent", "Wizard", "", "principal"])
_IDS = st.sampled_from(["u1", "u2", "u3", "u4", "", "a/b", "u5"])
_ORGS = st.sampled_from(["sch1", "dist", "ghost", "", "sch1,ghost"])
_STATUS = st.sampled_from(["active", "", "tobedeleted", "inactive"])
_DATES = st.sampled_from(["", "2025-01-01", "2025-13-01", "9999-01-01T00:00:00Z", "soon"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.lists(st.fixed_dictionaries({
           "sourcedId": _IDS, "role": _ROLES, "orgSourcedIds": _ORGS, "status": _STATUS,
           "dateLastModified": _DATES, "grades": st.sampled_from(["", "05", "KG,09", "x"])}),
           max_size=12),
       drop=st.sets(st.sampled_from(["role", "status", "orgSourcedIds", "sourcedId"]),
                    max_size=2),
       enrollments=st.lists(st.tuples(_IDS, st.sampled_from(["c3", "c7", "nope", ""])),
                            max_size=6),
       delta=st.booleans())
def test_untidy_rosters_never_crash_and_drop_nothing(tmp_path, users, drop, enrollments,
                                                     delta):
    folder = tmp_path / "r"
    shutil.rmtree(folder, ignore_errors=True)
    district(folder)
    mode = "delta" if delta else "bulk"
    manifest(folder, {"orgs": "bulk", "users": mode, "classes": "bulk", "enrollments": mode})
    write_csv(folder, "users", [c for c in USER_COLUMNS if c not in drop], users)
    write_csv(folder, "enrollments", ["sourcedId", "classSourcedId", "userSourcedId"],
              [{"sourcedId": f"e{i}", "classSourcedId": c, "userSourcedId": u}
               for i, (u, c) in enumerate(enrollments)])
    result = roster_educators(read_roster(folder), now="2025-06-01")
    _accounted(result)
    rej = result.rejections
    assert (rej["reason"].str.len() > 0).all() and (rej["line"] >= 2).all()
    assert result.educators["educator_id"].is_unique
    n_enr = (rej["file"] == "enrollments.csv").sum()
    assert n_enr <= len(enrollments)


def test_line_numbers_count_breaks_inside_quoted_fields_and_a_bom_is_accepted(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "users.csv").write_bytes(
        "\ufeffsourcedId,role,givenName\r\n"
        't1,teacher,"two\r\nlines"\r\n'
        "t2,wizard,x\r\n"
        "t3,teacher,y\r\n".encode())
    result = roster_educators(read_roster(folder))
    assert result.rejections[["line", "sourced_id"]].values.tolist() == [[4, "t2"]]
    assert result.educators[["educator_id", "line"]].values.tolist() == [["t1", 2], ["t3", 5]]


def test_a_set_that_is_neither_folder_nor_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("sourcedId\n")
    with pytest.raises(ValueError, match="must be a folder or a zip"):
        read_roster(bad)
    with pytest.raises(ValueError, match="not a readable zip"):
        read_roster(b"PK\x03\x04 broken")


def test_unreadable_files_are_notes_not_exceptions(tmp_path):
    (tmp_path / "users.csv").write_bytes(b"")
    (tmp_path / "orgs.csv").write_bytes(b"\xff\xfe\x00bad")
    result = roster_educators(read_roster(tmp_path))
    notes = dict(result.notes)
    assert "not readable" in notes["users.csv"] and "not readable" in notes["orgs.csv"]
    assert result.educators.empty and result.rejections.empty
