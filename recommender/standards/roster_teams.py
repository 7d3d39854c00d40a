"""OneRoster classes and schools -> teams of educators (issue #19, item 1).

:func:`roster_teams` is pure: from a roster's files (:func:`~recommender.standards.oneroster_files.
read_roster`) and the educators the OneRoster mapping kept (:func:`~recommender.standards.
oneroster.roster_educators`), it builds one team per class (its members: the educators enrolled
in it, i.e. its teachers and aides; students are not educators) or per school (its members: the
educators whose school it is, i.e. its staff). Only active rows count: a ``tobedeleted`` class,
enrollment or educator is left out. Team ids are ``class-<sourcedId>`` and
``school-<sourcedId>``; names are the class ``title`` and the school ``name`` (the id when
empty). Members keep the roster's order, each once.

A team that cannot be stored is reported, never cut to fit: an id that is not an addressable id
(:data:`~recommender.fields.ADDRESSABLE_ID`: at most 128 characters, no ``/``), a name longer
than :data:`TEAM_NAME` allows, or more than :data:`MAX_MEMBERS` members. A class or school with
no educator yields no team (counted in ``counts``). Vectorized over the files' rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from recommender.fields import ADDRESSABLE_ID, Rule, problems
from recommender.standards.oneroster_files import RosterFiles

__all__ = ["KINDS", "MAX_MEMBERS", "TEAM_COLUMNS", "TEAM_NAME", "RosterTeams", "roster_teams"]

KINDS = ("class", "school")
"""What a team can be made from."""

TEAM_NAME = Rule("a team name", 64, min_length=0)
"""A team's name: what the API accepts (``PUT /v1/teams/{id}``)."""

MAX_MEMBERS = 500
"""Most members of one team, as the API allows (a school's staff fits)."""

TEAM_COLUMNS = ("team_id", "name", "kind", "source_id", "members")
"""One row per team: ``members`` is a list of educator ids."""

REJECTION_COLUMNS = ("file", "sourced_id", "field", "value", "reason")


@dataclass(frozen=True)
class RosterTeams:
    """The teams a roster makes, the ones it cannot make, and counts."""

    teams: pd.DataFrame
    rejections: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def _active(frame: pd.DataFrame) -> pd.Series:
    status = frame["status"].str.lower() if "status" in frame else pd.Series("", index=frame.index)
    return status != "tobedeleted"


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] if column in frame else pd.Series("", index=frame.index, dtype=object)


def _class_members(files: RosterFiles, educators: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(source_id, name, members) per class with an educator enrolled; the number of classes."""
    classes = files.frames.get("classes")
    enrollments = files.frames.get("enrollments")
    if classes is None:
        return pd.DataFrame(columns=["source_id", "name", "members"]), 0
    classes = classes[_active(classes)]
    if enrollments is None:
        enrollments = pd.DataFrame(columns=["classSourcedId", "userSourcedId"])
    staff = educators.set_index("sourced_id")["educator_id"]
    enr = enrollments[_active(enrollments)]
    enr = pd.DataFrame({"source_id": _text(enr, "classSourcedId"),
                        "member": _text(enr, "userSourcedId").map(staff)}).dropna()
    enr = enr[enr["source_id"].isin(classes["sourcedId"])].drop_duplicates()
    members = enr.groupby("source_id", sort=False)["member"].agg(list)
    titles = _text(classes, "title").set_axis(classes["sourcedId"])
    out = members.rename("members").reset_index()
    out["name"] = out["source_id"].map(titles).fillna("")
    return out, len(classes)


def _school_members(educators: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(source_id, name, members) per school of the educators; the number of schools."""
    ed = educators[educators["school"].notna() & (educators["school"] != "")]
    members = ed.groupby("school", sort=False)["educator_id"].agg(list)
    names = ed.drop_duplicates("school").set_index("school")["school_name"]
    out = members.rename("members").rename_axis("source_id").reset_index()
    out["name"] = out["source_id"].map(names).fillna("")
    return out, len(out)


def _reject(frame: pd.DataFrame, bad: pd.Series, file: str, column: str, values: pd.Series,
            reasons: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"file": file, "sourced_id": frame["source_id"][bad],
                         "field": column, "value": values[bad].astype(str),
                         "reason": reasons[bad]})


def roster_teams(files: RosterFiles, educators: pd.DataFrame, *, by: str = "class"
                 ) -> RosterTeams:
    """One team per class (``by="class"``) or school (``by="school"``) of a roster.

    Parameters
    ----------
    files : RosterFiles
        The roster as read (classes and enrollments are used for classes).
    educators : DataFrame
        :attr:`~recommender.standards.oneroster.RosterImport.educators` of the same roster
        (``educator_id``, ``sourced_id``, ``status``, ``school``, ``school_name``).
    by : {"class", "school"}

    Returns
    -------
    RosterTeams
        ``teams`` (:data:`TEAM_COLUMNS`), ``rejections`` (file, sourced_id, field, value,
        reason) and ``counts``: the classes or schools seen, teams made, ones with no educator,
        ones rejected.
    """
    if by not in KINDS:
        raise ValueError(f"by must be one of {list(KINDS)}; got {by!r}")
    active = educators[educators["status"] == "active"]
    if by == "class":
        found, seen = _class_members(files, active)
        file, name_field = "classes.csv", "title"
    else:
        found, seen = _school_members(active)
        file, name_field = "orgs.csv", "name"
    found = found.reset_index(drop=True).astype({"source_id": str, "name": str})
    found["team_id"] = f"{by}-" + found["source_id"].astype(str)
    found["name"] = found["name"].where(found["name"] != "", found["source_id"])
    found["kind"] = by
    size = found["members"].map(len)
    id_why = problems(found["team_id"], "team_id", ADDRESSABLE_ID)
    name_why = problems(found["name"], "name", TEAM_NAME)
    size_why = pd.Series(f"{by} has more than {MAX_MEMBERS} educators", index=found.index) \
        .where(size > MAX_MEMBERS)
    parts = [_reject(found, id_why.notna(), file, "sourcedId", found["source_id"], id_why),
             _reject(found, name_why.notna() & id_why.isna(), file, name_field, found["name"],
                     name_why),
             _reject(found, size_why.notna() & id_why.isna() & name_why.isna(), file,
                     "members", size, size_why + " (got " + size.astype(str) + ")")]
    rejections = pd.concat(parts, ignore_index=True)
    ok = id_why.isna() & name_why.isna() & size_why.isna()
    teams = found.loc[ok, list(TEAM_COLUMNS)].reset_index(drop=True)
    counts = {"classes" if by == "class" else "schools": int(seen), "teams": len(teams),
              "rejected": len(rejections)}
    if by == "class":
        counts["classes_without_educators"] = int(seen) - len(found)
    return RosterTeams(teams, rejections.reset_index(drop=True), counts)
