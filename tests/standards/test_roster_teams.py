"""OneRoster classes and schools -> teams: a tidy district, untidy rows, generated rosters, and
the shared samples."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.standards.oneroster import roster_educators
from recommender.standards.oneroster_files import read_roster
from recommender.standards.roster_teams import MAX_MEMBERS, roster_teams
from tests.standards.roster_factory import USER_COLUMNS, district, user, write_csv

SHARED = Path(__file__).resolve().parents[3] / "shared/data/standards/oneroster"

CLASS_COLUMNS = ["sourcedId", "status", "dateLastModified", "title", "grades",
                 "courseSourcedId", "schoolSourcedId"]
ENROLLMENT_COLUMNS = ["sourcedId", "status", "classSourcedId", "userSourcedId", "role"]


def _teams(folder: Path, by: str):
    files = read_roster(folder)
    return roster_teams(files, roster_educators(files).educators, by=by)


def test_classes_make_teams_of_their_teachers_and_schools_of_their_staff(tmp_path):
    result = _teams(district(tmp_path / "d"), "class")
    got = result.teams.set_index("team_id")
    assert got.loc["class-c3", "members"] == ["t1", "t3", "a1"]  # students are not educators
    assert got.loc["class-c3", ["name", "kind", "source_id"]].tolist() == [
        "Grade 3", "class", "c3"]
    assert got.loc["class-c10", "members"] == ["t2"]
    assert set(got.index) == {"class-c3", "class-c7", "class-c78", "class-c10"}
    assert result.rejections.empty and result.counts["teams"] == 4

    schools = _teams(tmp_path / "d", "school").teams.set_index("team_id")
    assert schools.loc["school-sch1", ["name", "members"]].tolist() == [
        "Elm Elementary", ["t1", "t3", "a1", "p1"]]
    assert schools.loc["school-sch2", "members"] == ["t2", "t4"]
    assert "school-dist" not in schools.index  # a district is not a school


def test_untidy_classes_are_reported_or_left_out_never_cut(tmp_path):
    folder = district(tmp_path / "d")
    write_csv(folder, "classes", CLASS_COLUMNS, [
        {"sourcedId": "c3", "title": "Grade 3"},
        {"sourcedId": "a/b", "title": "Slash"},
        {"sourcedId": "c7", "title": "x" * 65},
        {"sourcedId": "old", "status": "tobedeleted", "title": "Gone"},
        {"sourcedId": "empty", "title": ""},
        {"sourcedId": "nobody", "title": "No teacher"}])
    write_csv(folder, "enrollments", ENROLLMENT_COLUMNS, [
        {"sourcedId": f"e{i}", "classSourcedId": c, "userSourcedId": u, "status": st_}
        for i, (c, u, st_) in enumerate([
            ("c3", "t1", "active"), ("c3", "t1", "active"), ("c3", "t3", "tobedeleted"),
            ("a/b", "t1", ""), ("c7", "t2", ""), ("old", "t1", ""), ("empty", "t4", ""),
            ("nobody", "s1", "")])])
    result = _teams(folder, "class")
    got = result.teams.set_index("team_id")
    assert got.loc["class-c3", "members"] == ["t1"]  # once; the tobedeleted enrollment is out
    assert got.loc["class-empty", "name"] == "empty"  # no title: the id
    assert "class-old" not in got.index and "class-nobody" not in got.index
    rej = result.rejections.set_index("sourced_id")
    assert rej.loc["a/b", "field"] == "sourcedId" and "/" in rej.loc["a/b", "reason"]
    assert rej.loc["c7", "field"] == "title" and "65 characters" in rej.loc["c7", "reason"]
    assert result.counts == {"classes": 5, "teams": 2, "rejected": 2,
                             "classes_without_educators": 1}


def test_a_school_larger_than_a_team_may_be_is_reported(tmp_path):
    folder = district(tmp_path / "d")
    write_csv(folder, "users", USER_COLUMNS,
              [user(f"t{i}", "teacher") for i in range(MAX_MEMBERS + 1)])
    result = _teams(folder, "school")
    assert result.teams.empty
    (row,) = result.rejections.itertuples()
    assert row.field == "members" and f"got {MAX_MEMBERS + 1}" in row.reason


def test_by_must_name_a_kind(tmp_path):
    files = read_roster(district(tmp_path / "d"))
    with pytest.raises(ValueError, match="by must be one of"):
        roster_teams(files, roster_educators(files).educators, by="grade")


_USERS = st.sampled_from(["t1", "t2", "t3", "a1", "s1", "s2", "ghost"])
_CLASSES = st.sampled_from(["c3", "c7", "c78", "c10", "nope"])


@pytest.fixture(scope="module")
def tidy(tmp_path_factory):
    """The tidy district's files as bytes, and its educators (mapped once)."""
    folder = district(tmp_path_factory.mktemp("tidy") / "d")
    raw = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    return raw, roster_educators(read_roster(raw)).educators


def _csv(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrollments=st.lists(st.tuples(_CLASSES, _USERS, st.sampled_from(
    ["active", "", "tobedeleted"])), max_size=12))
def test_class_teams_hold_exactly_the_active_educators_enrolled(tidy, enrollments):
    raw, educators = tidy
    files = read_roster({**raw, "enrollments.csv": _csv(ENROLLMENT_COLUMNS, [
        {"sourcedId": f"e{i}", "classSourcedId": c, "userSourcedId": u, "status": s}
        for i, (c, u, s) in enumerate(enrollments)])})
    result = roster_teams(files, educators, by="class")
    staff = {"t1", "t2", "t3", "a1"}
    want: dict[str, list[str]] = {}
    for c, u, s in enrollments:
        if s != "tobedeleted" and u in staff and c != "nope" and u not in want.get(c, []):
            want.setdefault(c, []).append(u)
    got = dict(zip(result.teams["source_id"], result.teams["members"], strict=True))
    assert got == want and result.rejections.empty


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared OneRoster samples not present")
def test_shared_samples_make_the_teams_their_rows_allow():
    header_only = SHARED / "nicelion__oneroster-mocker__oneroster-example-csv"
    for by in ("class", "school"):
        result = _teams(header_only, by)
        assert result.teams.empty and result.rejections.empty
    result = _teams(SHARED / "nicelion__oneroster-mocker__outputs", "school")
    (team,) = result.teams.itertuples()
    assert team.name == "Fredy VonRueden Academy of Arts and Sciences"
    assert len(team.members) == 1 and team.team_id.startswith("school-")
    assert _teams(SHARED / "nicelion__oneroster-mocker__outputs", "class").teams.empty
