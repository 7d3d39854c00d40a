"""Store queries behind the coach page: educator search, evidence and feedback history, sessions.

Plain functions over a :class:`~recommender.store.Store`, tenant first like its methods, so
every query stays scoped by the tenant. Sessions: the browser holds a random token in a cookie;
only its SHA-256 is stored, with the API key it was opened with, so revoking the key, signing
out or the expiry ends it.

Evidence dated outside the field contract's time window (:mod:`recommender.fields`; rows stored
before the door enforced it, e.g. a year 0001 that no Python datetime can hold) is left out of
the summaries and lists with a logged warning, as the estimates leave it out; ``pdrec repair``
moves such rows aside.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from recommender.fields import time_window, window_text
from recommender.store import schema
from recommender.store.educators import EducatorRecord, educator_record
from recommender.store.engine import aware, chunks, write_transaction
from recommender.store.keys import ApiKey, api_key_record, hash_key
from recommender.store.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "search_educators",
    "evidence_summary",
    "evidence_records",
    "count_evidence_records",
    "feedback_history",
    "create_session",
    "session_key",
    "end_session",
]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _values_match(store: Store, pattern: str) -> sa.ColumnElement[bool]:
    """Whether a profile value or a goal id matches ``pattern`` (ILIKE): the JSON values only,
    never the key names or the JSON punctuation (SQLite ``json_each``, PostgreSQL
    ``json_each_text`` / ``json_array_elements_text``)."""
    t = schema.educators
    if store.dialect == "postgresql":
        profile = (sa.func.json_each_text(sa.cast(t.c.profile, sa.JSON))
                   .table_valued("key", "value").render_derived(name="p"))
        goals = (sa.func.json_array_elements_text(sa.cast(t.c.goals, sa.JSON))
                 .table_valued("value").render_derived(name="g"))
    else:
        profile = sa.func.json_each(t.c.profile).table_valued("value")
        goals = sa.func.json_each(t.c.goals).table_valued("value")
    return (sa.exists().select_from(profile).where(profile.c.value.ilike(pattern, escape="\\"))
            | sa.exists().select_from(goals).where(goals.c.value.ilike(pattern, escape="\\")))


def search_educators(store: Store, tenant_id: str, search: str | None = None, *,
                     limit: int = 50, offset: int = 0) -> tuple[list[EducatorRecord], int]:
    """Educators whose id, a profile value or a goal id contains ``search`` (case-insensitive),
    in id order. Profile key names (``grade_band``) are not searched: they are in every profile.

    Returns ``(page, total)``: ``limit`` records after ``offset``, and how many match in all.
    """
    t = schema.educators
    cond = t.c.tenant_id == tenant_id
    if search and search.strip():
        pattern = _like(search.strip())
        cond &= t.c.educator_id.ilike(pattern, escape="\\") | _values_match(store, pattern)
    with store.engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(t).where(cond))
                    .scalar_one())
        rows = conn.execute(sa.select(t).where(cond).order_by(t.c.educator_id)
                            .limit(limit).offset(offset)).all()
    return [educator_record(r) for r in rows], total


def _inside(now: pd.Timestamp | None) -> tuple[sa.ColumnElement[bool], str]:
    """The condition "``observed_us`` in the time window at ``now``", and the window as text."""
    window = time_window(now)
    lo, hi = (int(ts.value // 1000) for ts in window)
    return schema.evidence.c.observed_us.between(lo, hi), window_text(window)


def _warn_skipped(skipped: dict[str, int], window: str) -> None:
    if skipped:
        log.warning("skipped %d stored evidence rows of educator(s) %s dated outside the "
                    "accepted window %s; `pdrec repair` moves them aside",
                    sum(skipped.values()), sorted(skipped)[:5], window)


def evidence_summary(store: Store, tenant_id: str, educator_ids: Iterable[str], *,
                     now: pd.Timestamp | None = None, sources: Collection[str] | None = None
                     ) -> dict[str, tuple[int, datetime | None]]:
    """``{educator_id: (n_evidence, last observed_at)}`` for these educators (one grouped query
    per chunk of ids), of ``sources`` only when given (what the caller's role may read);
    educators without evidence are absent. Rows outside the time window at ``now`` are not
    counted (a warning says how many)."""
    t = schema.evidence
    ids = list(dict.fromkeys(educator_ids))
    inside, window = _inside(now)
    out: dict[str, tuple[int, datetime | None]] = {}
    skipped: dict[str, int] = {}
    with store.engine.connect() as conn:
        for part in chunks(ids):
            q = (sa.select(t.c.educator_id, sa.func.count(),
                           sa.func.sum(sa.case((inside, 1), else_=0)),
                           sa.func.max(sa.case((inside, t.c.observed_us))))
                 .where((t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part)
                        & (t.c.source.in_(sorted(sources)) if sources is not None
                           else sa.true()))
                 .group_by(t.c.educator_id))
            for e, total, n, last_us in conn.execute(q):
                if int(total) > int(n):
                    skipped[e] = int(total) - int(n)
                if int(n):
                    out[e] = (int(n), datetime(1970, 1, 1, tzinfo=UTC)
                              + timedelta(microseconds=int(last_us)))
    _warn_skipped(skipped, window)
    return out


def _records_of(tenant_id: str, educator_id: str, competency_id: str | None,
                sources: Collection[str] | None) -> sa.ColumnElement[bool]:
    """The condition "an evidence row of this educator (, competency and sources)"."""
    t = schema.evidence
    cond = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
    if competency_id is not None:
        cond &= t.c.competency_id == competency_id
    if sources is not None:
        cond &= t.c.source.in_(sorted(sources))
    return cond


def count_evidence_records(store: Store, tenant_id: str, educator_id: str,
                           competency_id: str | None = None, *,
                           sources: Collection[str] | None = None,
                           now: pd.Timestamp | None = None) -> int:
    """How many records :func:`evidence_records` would list without a limit (of ``sources``
    only, when given)."""
    t = schema.evidence
    inside, _ = _inside(now)
    cond = _records_of(tenant_id, educator_id, competency_id, sources) & inside
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(cond))
                   .scalar_one())


def evidence_records(store: Store, tenant_id: str, educator_id: str,
                     competency_id: str | None = None, *, limit: int = 500,
                     now: pd.Timestamp | None = None,
                     sources: Collection[str] | None = None) -> list[dict]:
    """An educator's evidence, newest first: ``evidence_id, competency_id, source, score,
    scale_min, scale_max, score_norm, proficient, observed_at, rater_id, activity_id``; of
    ``sources`` only, when given (what the caller's role may read). Rows outside the time
    window at ``now`` are left out (a warning says how many)."""
    t = schema.evidence
    cond = _records_of(tenant_id, educator_id, competency_id, sources)
    inside, window = _inside(now)
    cols = [t.c.evidence_id, t.c.competency_id, t.c.source, t.c.score, t.c.scale_min,
            t.c.scale_max, t.c.score_norm, t.c.proficient, t.c.observed_us, t.c.rater_id,
            t.c.activity_id]
    q = sa.select(*cols).where(cond & inside).order_by(t.c.observed_us.desc(), t.c.evidence_id)
    with store.engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).all()
        outside = int(conn.execute(sa.select(sa.func.count()).select_from(t)
                                   .where(cond & ~inside)).scalar_one())
    _warn_skipped({educator_id: outside} if outside else {}, window)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [{"evidence_id": r[0], "competency_id": r[1], "source": r[2], "score": float(r[3]),
             "scale_min": float(r[4]), "scale_max": float(r[5]), "score_norm": float(r[6]),
             "proficient": bool(r[7]), "observed_at": epoch + timedelta(microseconds=int(r[8])),
             "rater_id": r[9], "activity_id": r[10]} for r in rows]


def feedback_history(store: Store, tenant_id: str, educator_id: str, *, limit: int = 200
                     ) -> list[dict]:
    """An educator's feedback and coach overrides, newest first, notes included."""
    t = schema.feedback
    cols = [t.c.feedback_id, t.c.activity_id, t.c.event, t.c.at, t.c.rating, t.c.replaces,
            t.c.by, t.c.note, t.c.key_id]
    q = (sa.select(*cols).where((t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id))
         .order_by(t.c.at.desc(), t.c.feedback_id.desc()).limit(limit))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [{"feedback_id": int(r[0]), "activity_id": r[1], "event": r[2], "at": aware(r[3]),
             "rating": r[4], "replaces": r[5], "by": r[6], "note": r[7], "key_id": r[8]}
            for r in rows]


def create_session(store: Store, key: ApiKey, ttl: timedelta) -> str:
    """Open a session for this (active) key; returns the token for the cookie (shown once).

    Expired sessions are purged on the way.
    """
    if not key.active:
        raise ValueError(f"API key {key.key_id} was revoked")
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    t = schema.coach_sessions
    with write_transaction(store.engine) as conn:
        conn.execute(t.delete().where(t.c.expires_at < now))
        conn.execute(t.insert().values(session_hash=hash_key(token), tenant_id=key.tenant_id,
                                       key_id=key.key_id, created_at=now,
                                       expires_at=now + ttl))
    return token


def session_key(store: Store, token: str) -> tuple[ApiKey, datetime] | None:
    """The key behind a session token and the session's expiry; None for an unknown token.

    The caller checks the expiry and whether the key is still active.
    """
    s, k = schema.coach_sessions, schema.api_keys
    q = (sa.select(k, s.c.expires_at).select_from(s.join(k, s.c.key_id == k.c.key_id))
         .where(s.c.session_hash == hash_key(token)))
    with store.engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        return None
    return api_key_record(row), aware(row.expires_at)


def end_session(store: Store, token: str) -> None:
    """Forget a session (sign-out); unknown tokens are ignored."""
    t = schema.coach_sessions
    with write_transaction(store.engine) as conn:
        conn.execute(t.delete().where(t.c.session_hash == hash_key(token)))
