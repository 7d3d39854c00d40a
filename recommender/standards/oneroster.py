"""OneRoster 1.1/1.2 rosters -> educators with role, school and grade band (issue #15, item 5).

:func:`roster_educators` is pure: it maps the files :func:`~recommender.standards.oneroster_files.
read_roster` read to one row per staff user and reports every row it cannot use with its file,
line, ``sourcedId``, field, value and reason. Students, parents and the other people who are not
educators are a count, not an error. Everything is vectorized over the files' columns.

Who is an educator (``role``, OneRoster 1.1 or 1.2, compared without case) and the profile
``role`` each becomes (:data:`EDUCATOR_ROLES`): ``teacher`` -> ``classroom_teacher`` (the role
of the default framework's profiles), ``aide`` -> ``paraprofessional``, ``counselor`` ->
``counselor``, ``administrator``, ``principal`` and ``siteAdministrator`` -> ``administrator``
(school leaders: the ``leader`` framework), ``districtAdministrator`` ->
``district_administrator``. Not educators (:data:`NON_EDUCATOR_ROLES`): ``student``,
``parent``, ``guardian``, ``relative``, ``proctor`` (an exam supervisor, often not staff) and
``systemAdministrator`` (IT staff). Any other role is reported.

The rules, in the order a row is checked (the first failure is its reason):

- users: a role (column ``role``; in 1.2 from ``roles.csv``, the ``primary`` row first); then,
  for educators, ``sourcedId`` present; ``status`` ``active`` or ``tobedeleted`` (empty means
  ``active`` in a bulk file, and is refused in a delta file, where it is required, as is
  ``dateLastModified``); ``dateLastModified`` an ISO 8601 time in the field contract's window;
  one row per ``sourcedId`` (the latest ``dateLastModified`` is kept, the others reported);
  the educator id (``sourcedId`` by default, or ``username``, ``email``, ``identifier``: the id
  xAPI statements name the educator by) an addressable id, unique; every org of
  ``orgSourcedIds`` (1.2: ``primaryOrgSourcedId``) in ``orgs.csv``.
- orgs, classes, courses, academicSessions, enrollments: ``sourcedId``, ``status``,
  ``dateLastModified`` and duplicates as above; an enrollment's ``userSourcedId`` and
  ``classSourcedId``, a class's ``courseSourcedId`` and ``schoolSourcedId`` must name a row of
  that file.

A reference is checked only against a ``bulk`` file of the same set (the whole set of its kind);
against a ``delta`` file or a file not sent it cannot be, and is taken as it is.

School: the user's first org whose ``type`` is ``school`` (``school`` is its ``sourcedId``,
``school_name`` its name); without ``orgs.csv``, the first org listed. Grade band: from the
``grades`` of the classes the educator is enrolled in (active enrollments; a class without grades
takes its course's): each class votes for each band its grades fall in (:data:`GRADE_BANDS`:
``PK``-``05`` elementary, ``06``-``08`` middle, ``09``-``13`` high); the band with most classes
wins, a tie goes to the lower band. Without classes, the user's own ``grades`` vote instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recommender.fields import ADDRESSABLE_ID, parse_times, problems, time_window
from recommender.standards.oneroster_files import LINE, RosterFiles

__all__ = ["BANDS", "EDUCATOR_ROLES", "GRADE_BANDS", "ID_FIELDS", "NON_EDUCATOR_ROLES",
           "EDUCATOR_COLUMNS", "REJECTION_COLUMNS", "RosterImport", "roster_educators"]

EDUCATOR_ROLES = {
    "teacher": "classroom_teacher",
    "aide": "paraprofessional",
    "counselor": "counselor",
    "administrator": "administrator",
    "principal": "administrator",
    "siteadministrator": "administrator",
    "districtadministrator": "district_administrator",
}
"""OneRoster roles (lower case) of educators -> the profile ``role`` they get."""

NON_EDUCATOR_ROLES = ("student", "parent", "guardian", "relative", "proctor",
                      "systemadministrator")
"""OneRoster roles (lower case) of people who are not educators: counted, not imported."""

BANDS = ("elementary", "middle", "high")
"""Grade bands, lowest first (ties go to the lower)."""

GRADE_BANDS = {"PK": "elementary", "TK": "elementary", "KG": "elementary",
               **{f"{g:02d}": "elementary" for g in range(1, 6)},
               **{f"{g:02d}": "middle" for g in range(6, 9)},
               **{f"{g:02d}": "high" for g in range(9, 14)}}
"""CEDS grade codes (as OneRoster writes them; ``1`` is read as ``01``) -> grade band. ``IT``,
``PR``, ``PS``, ``UG`` and ``Other`` have none."""

ID_FIELDS = ("sourcedId", "username", "email", "identifier")
"""users.csv columns that may serve as the educator id."""

STATUSES = ("active", "tobedeleted")

REJECTION_COLUMNS = ("file", "line", "sourced_id", "field", "value", "reason")

EDUCATOR_COLUMNS = ("educator_id", "sourced_id", "line", "status", "modified", "role",
                    "roster_role", "school", "school_name", "grade_band")

_CHECKED = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")

_COLUMNS = ("sourcedId", "status", "dateLastModified", "role", "orgSourcedIds",
            "primaryOrgSourcedId", "grades", "courseSourcedId", "schoolSourcedId",
            "classSourcedId", "userSourcedId", "roleType", "orgSourcedId", "name", "type",
            "username", "email", "identifier")
"""The columns the mapping reads; one a file lacks is added empty (and remembered as absent)."""

_REQUIRED = {"enrollments": ("classSourcedId", "userSourcedId"),
             "roles": ("userSourcedId", "role")}
"""Columns required beyond ``sourcedId`` (users: see :func:`_users`)."""


@dataclass(frozen=True)
class RosterImport:
    """What a roster maps to.

    Attributes
    ----------
    educators : DataFrame
        :data:`EDUCATOR_COLUMNS`, one row per staff user kept. ``status`` is ``active`` or
        ``tobedeleted``; ``modified`` the ``dateLastModified`` as UTC ISO text (``""`` when
        not given); ``school``, ``school_name``, ``grade_band`` may be missing.
    rejections : DataFrame
        :data:`REJECTION_COLUMNS`: one row per row not used, with the first reason.
    counts : dict
        ``rows.<file>`` read, ``educators``, ``tobedeleted``, ``non_educators`` and
        ``non_educators.<role>``, ``rejected.<file>``.
    notes : list of (file, note)
        File-level notes of the reader.
    """

    educators: pd.DataFrame
    rejections: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)


def _isin(values, known) -> np.ndarray:
    """Whether each value is one of ``known``, as a bool array: Arrow's hash lookup (pandas'
    ``isin`` on Arrow text builds a Python scalar per ``known`` value, seconds for 250,000)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    found = pc.is_in(pa.array(np.asarray(values, dtype=object), type=pa.string()),
                     value_set=pa.array(np.asarray(known, dtype=object), type=pa.string()))
    return found.fill_null(False).to_numpy(zero_copy_only=False)


class _Rows:
    """One file's rows and the first reason each is refused for (vectorized)."""

    def __init__(self, frame: pd.DataFrame, file: str, mode: str):
        self.absent = {c for c in _COLUMNS if c not in frame}
        frame = frame.assign(**{c: "" for c in sorted(self.absent)})
        self.frame, self.file, self.mode = frame, file, mode
        self.field = np.full(len(frame), None, dtype=object)
        self.value = np.full(len(frame), None, dtype=object)
        self.reason = np.full(len(frame), None, dtype=object)
        self.skip = np.zeros(len(frame), dtype=bool)  # left out, but not an error

    @property
    def ok(self) -> np.ndarray:
        return pd.isna(self.reason) & ~self.skip

    def col(self, name: str) -> pd.Series:
        """A column's text, ``""`` where the file lacks the column."""
        return self.frame[name].astype("str")

    def fail(self, mask, field: str, reason, value=None) -> None:
        """Refuse the rows of ``mask`` not refused yet; ``reason``/``value`` a str or Series."""
        m = np.asarray(mask, dtype=bool) & self.ok
        if not m.any():
            return
        value = self.col(field) if value is None else value
        self.field[m] = field
        self.value[m] = (np.asarray(value, dtype=object)[m] if isinstance(value, pd.Series)
                         else value)
        self.reason[m] = (np.asarray(reason, dtype=object)[m] if isinstance(reason, pd.Series)
                          else reason)

    def required(self, name: str) -> pd.Series:
        """Refuse rows missing ``name`` (or all, when the file has no such column)."""
        if name in self.absent:
            self.fail(np.ones(len(self.frame), bool), name,
                      f"{self.file} has no {name} column, which is required", "")
        values = self.col(name)
        self.fail(values == "", name, f"missing required field {name}")
        return values

    def good(self) -> pd.DataFrame:
        return self.frame[self.ok]

    def known(self) -> np.ndarray:
        """The ``sourcedId`` of every row not refused (skipped rows too: they exist)."""
        return self.col("sourcedId")[pd.isna(self.reason)].unique()

    def rejections(self) -> pd.DataFrame:
        bad = ~pd.isna(self.reason)
        return pd.DataFrame({
            "file": self.file, "line": self.frame[LINE].to_numpy()[bad],
            "sourced_id": self.col("sourcedId").to_numpy(dtype=object)[bad],
            "field": self.field[bad], "value": self.value[bad].astype(str),
            "reason": self.reason[bad]}, columns=list(REJECTION_COLUMNS))


def _standard(rows: _Rows, now: pd.Timestamp | None) -> None:
    """``sourcedId``, ``status``, ``dateLastModified`` and duplicate ``sourcedId`` checks; sets
    the normalized ``_status`` and ``_modified`` columns."""
    delta = rows.mode == "delta"
    sid = rows.required("sourcedId")
    status = rows.col("status").str.lower()
    if delta:
        rows.fail(status == "", "status", "status is required in a delta file")
    status = status.where(status != "", "active")
    rows.fail(~status.isin(STATUSES), "status",
              "bad status: expected " + " or ".join(STATUSES))
    text = rows.col("dateLastModified")
    if delta:
        rows.fail(text == "", "dateLastModified", "dateLastModified is required in a delta file")
    check = parse_times(text.where(text != ""), time_window(now))
    rows.fail(check.not_iso, "dateLastModified", "dateLastModified is not an ISO 8601 time")
    rows.fail(check.outside, "dateLastModified",
              "dateLastModified is before 1970 or more than a day in the future")
    modified = check.times.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").fillna("")
    rows.frame = rows.frame.assign(_status=status.to_numpy(), _modified=modified.to_numpy())
    _unique(rows, sid, "sourcedId")


def _unique(rows: _Rows, key: pd.Series, field: str) -> None:
    """Refuse all but one row per ``key`` among rows still good: the latest modified."""
    live = pd.DataFrame({"key": key.to_numpy(), "line": rows.frame[LINE].to_numpy(),
                         "modified": rows.frame["_modified"].to_numpy()})[rows.ok]
    order = live.sort_values(["modified", "line"], ascending=[False, True], kind="stable")
    kept = order.drop_duplicates("key").set_index("key")["line"]
    dup = order.index[order["key"].duplicated()]
    if len(dup):
        mask = np.zeros(len(rows.frame), dtype=bool)
        mask[dup] = True
        kept_line = key.map(kept).astype("Int64").astype("str")
        rows.fail(mask, field, "duplicate " + field + ": line " + kept_line
                  + " has it too and is kept (the latest dateLastModified, else the first)")


def _references(rows: _Rows, column: str, target: _Rows | None, what: str) -> None:
    """Refuse rows whose ``column`` names no good row of ``target`` (a bulk file only)."""
    if target is None or target.mode != "bulk" or column in rows.absent:
        return
    values = rows.col(column)
    known = target.known()
    rows.fail((values != "").to_numpy() & ~_isin(values, known), column,
              f"unknown {what}: not in {target.file}")


def _bands(grades: pd.Series) -> pd.DataFrame:
    """``(index of the row, band)`` for each band a comma-separated grade list falls in."""
    codes = grades.str.split(",").explode().str.strip().str.upper()
    codes = codes.where(~codes.str.fullmatch(r"\d"), "0" + codes)
    band = codes.map(GRADE_BANDS).dropna()
    return pd.DataFrame({"row": band.index, "band": band.to_numpy()}).drop_duplicates()


def _vote(owner, band) -> pd.Series:
    """The band with most votes per owner, a tie to the lower band; indexed by owner."""
    votes = pd.DataFrame({"owner": np.asarray(owner, dtype=object),
                          "band": np.asarray(band, dtype=object)})
    if votes.empty:
        return pd.Series(dtype="str")
    counts = votes.value_counts().rename("n").reset_index()
    counts["rank"] = counts["band"].map({b: i for i, b in enumerate(BANDS)})
    counts = counts.sort_values(["owner", "n", "rank"], ascending=[True, False, True])
    return counts.drop_duplicates("owner").set_index("owner")["band"]


def _file_rows(files: RosterFiles, name: str, now: pd.Timestamp | None) -> _Rows | None:
    if name not in files.frames:
        return None
    rows = _Rows(files.frames[name], f"{name}.csv", files.mode(name))
    if name != "users":  # users: only educators are checked (see _users)
        _standard(rows, now)
        for column in _REQUIRED.get(name, ()):
            rows.required(column)
    return rows


def _roles(users: _Rows, roles: _Rows | None) -> tuple[pd.Series, pd.Series]:
    """``(role as sent, comma-separated org ids)`` per user row: from users.csv (1.1) or, when
    it has no ``role`` column, from roles.csv (1.2; the ``primary`` role first)."""
    if "role" not in users.absent or roles is None:
        orgs = users.col("orgSourcedIds" if "orgSourcedIds" not in users.absent
                         else "primaryOrgSourcedId")
        if "role" in users.absent:
            users.fail(np.ones(len(users.frame), bool), "role", "users.csv has no role column "
                       "and the set has no roles.csv (OneRoster 1.2)", "")
        return users.col("role"), orgs
    good = roles.good()
    good = good.assign(_rank=(good["roleType"] != "primary").astype(int))
    first = (good.sort_values(["_rank", LINE]).drop_duplicates("userSourcedId")
             .set_index("userSourcedId"))
    sid = users.col("sourcedId")
    role = sid.map(first["role"]).fillna("")
    org = sid.map(first["orgSourcedId"]).fillna("")
    primary = users.col("primaryOrgSourcedId")
    return role.astype("str"), primary.where(primary != "", org).astype("str")


def _users(users: _Rows, roles: _Rows | None, orgs: _Rows | None, id_field: str,
           now: pd.Timestamp | None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The educator rows of users.csv (``sourced_id``, ``educator_id``, role, school ...) and
    the count of non-educators per role; refuses the rest in ``users``."""
    sent, org_text = _roles(users, roles)
    role = sent.str.lower()
    users.fail(role == "", "role", "missing required field role", sent)
    non = role.isin(NON_EDUCATOR_ROLES)
    users.fail(~non & ~role.isin(EDUCATOR_ROLES), "role", "unknown role: expected one of "
               + ", ".join([*EDUCATOR_ROLES, *NON_EDUCATOR_ROLES]) + " (any case)", sent)
    skipped = non.to_numpy() & users.ok
    counts = role[skipped].value_counts()
    users.skip |= skipped
    _standard(users, now)
    ids = users.required(id_field) if id_field != "sourcedId" else users.col("sourcedId")
    why = problems(ids.where(ids != ""), id_field, ADDRESSABLE_ID)
    users.fail(why.notna(), id_field, why.fillna(""))
    if id_field != "sourcedId":
        _unique(users, ids, id_field)
    listed = org_text.str.split(",").explode().str.strip()
    listed = listed[(listed != "") & listed.notna()]
    org_frame = orgs.good() if orgs is not None else pd.DataFrame()
    if orgs is not None and orgs.mode == "bulk":
        unknown = listed[~_isin(listed, orgs.known())]
        first = unknown.groupby(level=0).first().reindex(users.frame.index)
        users.fail(first.notna(), "orgSourcedIds", "unknown org: not in orgs.csv",
                   first.fillna(""))
    if len(org_frame):
        types = org_frame.set_index("sourcedId")["type"].str.lower()
        listed = listed[listed.map(types) == "school"]
    school = listed.groupby(level=0).first().reindex(users.frame.index)
    names = (org_frame.set_index("sourcedId")["name"] if len(org_frame)
             else pd.Series(dtype="str"))
    good = users.ok
    frame = users.frame
    out = pd.DataFrame({
        "educator_id": ids.to_numpy()[good], "sourced_id": frame["sourcedId"].to_numpy()[good],
        "line": frame[LINE].to_numpy()[good], "status": frame["_status"].to_numpy()[good],
        "modified": frame["_modified"].to_numpy()[good],
        "role": role[good].map(EDUCATOR_ROLES).to_numpy(),
        "roster_role": sent.to_numpy()[good], "school": school.to_numpy()[good]})
    out["school_name"] = out["school"].map(names)
    out["_grades"] = users.col("grades").to_numpy()[good]
    return out, {f"non_educators.{k}": int(v) for k, v in counts.items()}


def _grade_band(educators: pd.DataFrame, enrollments: _Rows | None, classes: _Rows | None,
                courses: _Rows | None) -> pd.Series:
    """Each educator's grade band (see the module docstring), by position in ``educators``."""
    by_class = pd.Series(dtype="str")
    if enrollments is not None and classes is not None:
        cls = classes.good()
        grades = cls["grades"]
        if courses is not None:
            course_grades = courses.good().set_index("sourcedId")["grades"]
            grades = grades.where(grades != "", cls["courseSourcedId"].map(course_grades))
        bands = _bands(grades.fillna("").astype("str"))
        bands["class"] = cls["sourcedId"].reindex(bands["row"]).to_numpy()
        enr = enrollments.good()
        enr = enr[(enr["_status"] == "active").to_numpy()
                  & _isin(enr["userSourcedId"], educators["sourced_id"])]
        pairs = enr[["userSourcedId", "classSourcedId"]].drop_duplicates()
        votes = pairs.merge(bands, left_on="classSourcedId", right_on="class")
        by_class = _vote(votes["userSourcedId"], votes["band"])
    own = _bands(educators["_grades"].reset_index(drop=True).astype("str"))
    by_user = _vote(educators["sourced_id"].to_numpy()[own["row"].to_numpy(dtype=np.int64)],
                    own["band"])
    sid = educators["sourced_id"]
    band = sid.map(by_class).astype(object) if len(by_class) else pd.Series(
        None, index=sid.index, dtype=object)
    return band.fillna(sid.map(by_user).astype(object)) if len(by_user) else band


def roster_educators(files: RosterFiles, *, id_field: str = "sourcedId",
                     now: pd.Timestamp | str | None = None) -> RosterImport:
    """Map a roster's staff users to educators and report every row not used.

    Parameters
    ----------
    files : RosterFiles
        From :func:`~recommender.standards.oneroster_files.read_roster`.
    id_field : str, default "sourcedId"
        The users.csv column that becomes the educator id (:data:`ID_FIELDS`).
    now : Timestamp or str, optional
        The present, for the time window of ``dateLastModified``.

    Returns
    -------
    RosterImport
    """
    if id_field not in ID_FIELDS:
        raise ValueError(f"id_field must be one of {list(ID_FIELDS)}; got {id_field!r}")
    now = None if now is None else pd.Timestamp(now)
    rows = {n: _file_rows(files, n, now) for n in (*_CHECKED, "roles")}
    if rows["classes"] is not None:
        _references(rows["classes"], "courseSourcedId", rows["courses"], "course")
        _references(rows["classes"], "schoolSourcedId", rows["orgs"], "org")
    counts: dict[str, int] = {f"rows.{n}.csv": len(f) for n, f in files.frames.items()}
    educators = pd.DataFrame(columns=[*EDUCATOR_COLUMNS, "_grades"])
    if rows["users"] is not None:
        educators, skipped = _users(rows["users"], rows["roles"], rows["orgs"], id_field, now)
        counts.update(skipped)
    if rows["enrollments"] is not None:
        _references(rows["enrollments"], "userSourcedId", rows["users"], "user")
        _references(rows["enrollments"], "classSourcedId", rows["classes"], "class")
    educators["grade_band"] = _grade_band(educators, rows["enrollments"], rows["classes"],
                                          rows["courses"]).to_numpy()
    educators = educators[list(EDUCATOR_COLUMNS)].reset_index(drop=True)
    parts = [r.rejections() for r in rows.values() if r is not None]
    rejections = (pd.concat(parts, ignore_index=True) if parts
                  else pd.DataFrame(columns=list(REJECTION_COLUMNS)))
    rejections = rejections.sort_values(["file", "line"], kind="stable").reset_index(drop=True)
    counts["educators"] = int((educators["status"] == "active").sum())
    counts["tobedeleted"] = int((educators["status"] == "tobedeleted").sum())
    counts["non_educators"] = sum(v for k, v in counts.items() if k.startswith("non_educators."))
    counts.update({f"rejected.{k}": int(v) for k, v in rejections["file"].value_counts().items()})
    return RosterImport(educators=educators, rejections=rejections, counts=counts,
                        notes=list(files.notes))
