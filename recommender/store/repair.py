"""Rows stored before the field contract was enforced: find them and move them aside.

The doors now refuse what :mod:`recommender.fields` rules out, but a store written earlier may
hold such rows: an evidence time in 1600 or in year 0, a feedback event dated 9999, a NUL in a
rater id, an educator id of 300 characters or with a ``/`` that no ``/v1/educators/{id}`` path
can reach. The read paths skip the rows that would break them; these functions find every
violating row so that ``pdrec repair`` can export it and delete it (never silently: the caller
writes each row, whole, to an export file before :func:`move_aside` deletes it).

What is checked, per table (tenant by tenant, in chunks, vectorized):

- ``educators``: ``educator_id`` (an addressable id), each goal id, the text values of the
  profile (``role``, ``subject``, ``grade_band``: one line, at most 64 characters). An educator
  whose id fails is moved aside with all its evidence, feedback and stored mastery; one whose
  profile value or goal fails keeps its data and loses that value (the row, as it was, is in
  the export).
- ``evidence``: ``evidence_id`` (the evidence key), ``educator_id``, ``activity_id``
  (addressable ids), ``rater_id`` (a reference id), ``observed_us`` in the time window.
- ``feedback``: ``educator_id``, ``activity_id``, ``replaces`` (addressable ids), ``by`` (a
  reference id), ``note`` (a note), ``at`` in the time window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from recommender.fields import (
    ADDRESSABLE_ID,
    EVIDENCE_KEY,
    REFERENCE_ID,
    TIME_DTYPE,
    Rule,
    outside_window,
    problem,
    problems,
    shown,
    time_window,
    window_text,
)
from recommender.store import schema
from recommender.store.engine import aware, chunks, write_transaction
from recommender.store.store import Store

__all__ = ["Finding", "RepairPlan", "find_violations", "move_aside"]

_PROFILE_TEXT = Rule("a profile value", 64, min_length=0)
_NOTE = Rule("a note", 2000, min_length=0, multiline=True)
_SCAN_CHUNK = 20_000  # rows per read: memory stays bounded on any table size


@dataclass(frozen=True)
class Finding:
    """One stored row that breaks the contract.

    Attributes
    ----------
    table : str
        ``educators``, ``evidence`` or ``feedback``.
    tenant_id : str
    key : str
        The row's key within the tenant: the educator id, the evidence id, or the feedback id.
    field : str
        The first field at fault.
    value : str
        Its value, cut for display.
    reason : str
        Why, in the words of the doors.
    row : dict
        The whole row, JSON-ready (what the export file keeps).
    """

    table: str
    tenant_id: str
    key: str
    field: str
    value: str
    reason: str
    row: dict


@dataclass
class RepairPlan:
    """What :func:`find_violations` found, and what moving it aside takes with it."""

    findings: list[Finding] = field(default_factory=list)
    educators: dict[str, set[str]] = field(default_factory=dict)
    """Per tenant, the educators moved aside whole (their id breaks the contract)."""

    def counts(self) -> dict[tuple[str, str], int]:
        """Rows found per ``(table, field)``."""
        out: dict[tuple[str, str], int] = {}
        for f in self.findings:
            out[f.table, f.field] = out.get((f.table, f.field), 0) + 1
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rows(store: Store, query: sa.Select) -> Iterator[pd.DataFrame]:
    """The rows of ``query`` as frames of at most :data:`_SCAN_CHUNK` rows (server-side cursor
    where the driver has one)."""
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_SCAN_CHUNK).execute(query)
        columns = list(result.keys())
        for part in result.partitions():
            yield pd.DataFrame([tuple(r) for r in part], columns=columns, dtype=object)


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name].where(frame[name].notna()).astype("str")


def _checked(store: Store, table: sa.Table, tenant: str, key: str, rules: tuple[tuple[str, Rule], ...]
             ) -> Iterator[tuple[pd.DataFrame, list[tuple[str, pd.Series]]]]:
    """The tenant's rows of ``table`` in ``key`` order, a frame at a time (:func:`_rows`), each
    with the checks of its text columns: ``(column, problems against its rule)`` for each of
    ``rules``, to which the caller adds the checks of other kinds."""
    query = sa.select(table).where(table.c.tenant_id == tenant).order_by(table.c[key])
    for frame in _rows(store, query):
        yield frame, [(name, problems(_text_column(frame, name), name, rule))
                      for name, rule in rules]


def _first_problem(frame: pd.DataFrame, checks: list[tuple[str, pd.Series]]
                   ) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """Per row: whether any check failed, the first field at fault and its reason."""
    bad = np.zeros(len(frame), dtype=bool)
    fields: list[str | None] = [None] * len(frame)
    reasons: list[str | None] = [None] * len(frame)
    for name, why in checks:
        hit = why.notna().to_numpy() & ~bad
        for i in np.flatnonzero(hit):
            fields[i], reasons[i] = name, why.iloc[i]
        bad |= hit
    return bad, fields, reasons


def _time_reasons(times: pd.Series, name: str, window: tuple[pd.Timestamp, pd.Timestamp]
                  ) -> pd.Series:
    out = pd.Series(np.nan, index=times.index, dtype=object)
    outside = outside_window(times, window) | times.isna().to_numpy()
    if outside.any():
        out[outside] = f"{name} is outside the accepted window {window_text(window)}"
    return out


def _us_times(us: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(us.astype("int64"), unit="us", utc=True),
                     index=us.index).astype(TIME_DTYPE)


def _findings(table: str, tenant: str, frame: pd.DataFrame, key: str,
              checks: list[tuple[str, pd.Series]], shown_value: dict[str, pd.Series]
              ) -> list[Finding]:
    bad, fields, reasons = _first_problem(frame, checks)
    out = []
    for i in np.flatnonzero(bad):
        row = {c: _jsonable(v) for c, v in frame.iloc[i].items()}
        name = fields[i]
        values = shown_value[name] if name in shown_value else frame[name]
        out.append(Finding(table=table, tenant_id=tenant, key=str(frame[key].iloc[i]),
                           field=name, value=shown(values.iloc[i]), reason=reasons[i], row=row))
    return out


def find_violations(store: Store, tenant_id: str | None = None, *,
                    now: pd.Timestamp | None = None) -> RepairPlan:
    """Every stored row of ``tenant_id`` (all tenants when None) that breaks the contract.

    Read-only. Times are judged against the window at ``now`` (default: the current time).
    """
    window = time_window(now)
    plan = RepairPlan()
    for tenant in ([tenant_id] if tenant_id is not None else store.tenants()):
        plan.findings.extend(_educators(store, tenant, plan))
        plan.findings.extend(_evidence(store, tenant, window))
        plan.findings.extend(_feedback(store, tenant, window))
    return plan


def _educators(store: Store, tenant: str, plan: RepairPlan) -> list[Finding]:
    out = []
    for frame, checks in _checked(store, schema.educators, tenant, "educator_id",
                                  (("educator_id", ADDRESSABLE_ID),)):
        profiles = frame["profile"].map(orjson.loads)
        goals = frame["goals"].map(orjson.loads)
        for name in ("role", "subject", "grade_band"):
            values = profiles.map(lambda p, name=name: p.get(name))
            checks.append((f"profile.{name}", problems(
                values.where(values.map(lambda v: isinstance(v, str))).astype("str"),
                f"profile.{name}", _PROFILE_TEXT)))
        flat = goals.explode()
        goal_why = problems(flat.where(flat.map(lambda v: isinstance(v, str))).astype("str"),
                            "goals", ADDRESSABLE_ID)
        checks.append(("goals", goal_why.groupby(level=0).first().reindex(frame.index)))
        found = _findings("educators", tenant, frame, "educator_id", checks,
                          {"goals": goals.map(str)} | {
                              f"profile.{n}": profiles.map(lambda p, n=n: p.get(n))
                              for n in ("role", "subject", "grade_band")})
        out.extend(found)
        plan.educators.setdefault(tenant, set()).update(
            f.key for f in found if f.field == "educator_id")
    return out


def _evidence(store: Store, tenant: str, window: tuple[pd.Timestamp, pd.Timestamp]
              ) -> list[Finding]:
    out = []
    for frame, checks in _checked(store, schema.evidence, tenant, "evidence_id", (
            ("evidence_id", EVIDENCE_KEY), ("educator_id", ADDRESSABLE_ID),
            ("activity_id", ADDRESSABLE_ID), ("rater_id", REFERENCE_ID))):
        times = _us_times(frame["observed_us"])
        checks.append(("observed_at", _time_reasons(times, "observed_at", window)))
        out.extend(_findings("evidence", tenant, frame, "evidence_id", checks,
                             {"observed_at": frame["observed_us"].map(_us_text)}))
    return out


def _us_text(us: Any) -> str:
    """Microseconds since the epoch as ISO 8601 when a datetime can hold them."""
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))).isoformat()
    except OverflowError:
        return f"{int(us)} microseconds from 1970-01-01"


def _feedback(store: Store, tenant: str, window: tuple[pd.Timestamp, pd.Timestamp]
              ) -> list[Finding]:
    out = []
    for frame, checks in _checked(store, schema.feedback, tenant, "feedback_id", (
            ("educator_id", ADDRESSABLE_ID), ("activity_id", ADDRESSABLE_ID),
            ("replaces", ADDRESSABLE_ID), ("by", REFERENCE_ID), ("note", _NOTE))):
        times = pd.Series(pd.to_datetime(frame["at"].map(_stored_time), utc=True,
                                         errors="coerce"), index=frame.index).astype(TIME_DTYPE)
        checks.append(("at", _time_reasons(times, "at", window)))
        out.extend(_findings("feedback", tenant, frame, "feedback_id", checks, {}))
    return out


def _stored_time(at: Any) -> datetime | None:
    """A stored time as a UTC datetime, None when it is not a datetime (unreadable)."""
    return aware(at) if isinstance(at, datetime) else None


def move_aside(store: Store, plan: RepairPlan) -> dict[str, int]:
    """Delete the rows of ``plan`` (export them first), one transaction per tenant.

    An educator moved aside takes its evidence, feedback and stored mastery with it. The
    ``data_version`` of every other educator that lost a row is bumped, so its stored mastery
    is recomputed on its next read. An educator kept whose profile value or goal breaks the
    contract is rewritten without it. Returns the rows deleted per table, and under
    ``profiles`` the educators rewritten.
    """
    ev, fb, ed, ms = schema.evidence, schema.feedback, schema.educators, schema.mastery
    kept = schema.served_answers
    deleted = {"educators": 0, "evidence": 0, "feedback": 0, "mastery": 0, "profiles": 0}
    tenants = sorted({f.tenant_id for f in plan.findings})
    for tenant in tenants:
        mine = [f for f in plan.findings if f.tenant_id == tenant]
        gone = sorted(plan.educators.get(tenant, set()))
        evidence_ids = sorted({f.key for f in mine if f.table == "evidence"})
        feedback_ids = sorted({int(f.key) for f in mine if f.table == "feedback"})
        touched = sorted({f.row["educator_id"] for f in mine if f.table != "educators"}
                         - set(gone))
        rewrite = {f.key: _cleaned(f.row) for f in mine
                   if f.table == "educators" and f.key not in gone}
        with write_transaction(store.engine) as conn:
            for educator, values in sorted(rewrite.items()):
                deleted["profiles"] += conn.execute(ed.update().where(
                    (ed.c.tenant_id == tenant) & (ed.c.educator_id == educator)).values(
                    **values, data_version=ed.c.data_version + 1)).rowcount
            for part in chunks(evidence_ids):
                deleted["evidence"] += conn.execute(ev.delete().where(
                    (ev.c.tenant_id == tenant) & ev.c.evidence_id.in_(part))).rowcount
            for part in chunks(feedback_ids):
                deleted["feedback"] += conn.execute(fb.delete().where(
                    (fb.c.tenant_id == tenant) & fb.c.feedback_id.in_(part))).rowcount
            for part in chunks(gone):
                for table in (ev, fb, ms):
                    n = conn.execute(table.delete().where(
                        (table.c.tenant_id == tenant) & table.c.educator_id.in_(part))).rowcount
                    deleted[{ev: "evidence", fb: "feedback", ms: "mastery"}[table]] += n
                conn.execute(kept.delete().where(  # their kept answers (derived: not counted)
                    (kept.c.tenant_id == tenant) & kept.c.educator_id.in_(part)))
                deleted["educators"] += conn.execute(ed.delete().where(
                    (ed.c.tenant_id == tenant) & ed.c.educator_id.in_(part))).rowcount
            for part in chunks(touched):
                conn.execute(ed.update().where((ed.c.tenant_id == tenant)
                                               & ed.c.educator_id.in_(part))
                             .values(data_version=ed.c.data_version + 1))
    return deleted


def _cleaned(row: dict) -> dict[str, str]:
    """An educator row's profile and goals without the values that break the contract."""
    profile = orjson.loads(row["profile"])
    goals = orjson.loads(row["goals"])
    profile = {k: v for k, v in profile.items()
               if k not in ("role", "subject", "grade_band")
               or (isinstance(v, str) and problem(v, k, _PROFILE_TEXT) is None)}
    goals = [g for g in goals if isinstance(g, str) and problem(g, "goals", ADDRESSABLE_ID) is None]
    return {"profile": orjson.dumps(profile).decode(), "goals": orjson.dumps(goals).decode()}
