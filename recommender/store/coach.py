"""Store queries behind the coach page: educator search, evidence and feedback history, sessions.

Plain functions over a :class:`~recommender.store.Store`, tenant first like its methods, so
every query stays scoped by the tenant. Sessions: the browser holds a random token in a cookie;
only its SHA-256 is stored, with the API key it was opened with, so revoking the key, signing
out or the expiry ends it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from recommender.store import ApiKey, EducatorRecord, Store, _aware, _chunks, hash_key, schema

__all__ = [
    "search_educators",
    "evidence_summary",
    "evidence_records",
    "feedback_history",
    "create_session",
    "session_key",
    "end_session",
]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_educators(store: Store, tenant_id: str, search: str | None = None, *,
                     limit: int = 50, offset: int = 0) -> tuple[list[EducatorRecord], int]:
    """Educators whose id, profile or goals contain ``search`` (case-insensitive), in id order.

    Returns ``(page, total)``: ``limit`` records after ``offset``, and how many match in all.
    """
    t = schema.educators
    cond = t.c.tenant_id == tenant_id
    if search and search.strip():
        pattern = _like(search.strip())
        cond &= (t.c.educator_id.ilike(pattern, escape="\\")
                 | t.c.profile.ilike(pattern, escape="\\")
                 | t.c.goals.ilike(pattern, escape="\\"))
    with store.engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(t).where(cond))
                    .scalar_one())
        rows = conn.execute(sa.select(t).where(cond).order_by(t.c.educator_id)
                            .limit(limit).offset(offset)).all()
    return [store._educator(r) for r in rows], total


def evidence_summary(store: Store, tenant_id: str, educator_ids: Iterable[str]
                     ) -> dict[str, tuple[int, datetime | None]]:
    """``{educator_id: (n_evidence, last observed_at)}`` for these educators (one grouped query
    per chunk of ids); educators without evidence are absent."""
    t = schema.evidence
    ids = list(dict.fromkeys(educator_ids))
    out: dict[str, tuple[int, datetime | None]] = {}
    with store.engine.connect() as conn:
        for part in _chunks(ids):
            q = (sa.select(t.c.educator_id, sa.func.count(), sa.func.max(t.c.observed_us))
                 .where((t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))
                 .group_by(t.c.educator_id))
            for e, n, last_us in conn.execute(q):
                last = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(last_us))
                        if last_us is not None else None)
                out[e] = (int(n), last)
    return out


def evidence_records(store: Store, tenant_id: str, educator_id: str,
                     competency_id: str | None = None, *, limit: int = 500) -> list[dict]:
    """An educator's evidence, newest first: ``evidence_id, competency_id, source, score,
    scale_min, scale_max, score_norm, proficient, observed_at, rater_id, activity_id``."""
    t = schema.evidence
    cond = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
    if competency_id is not None:
        cond &= t.c.competency_id == competency_id
    cols = [t.c.evidence_id, t.c.competency_id, t.c.source, t.c.score, t.c.scale_min,
            t.c.scale_max, t.c.score_norm, t.c.proficient, t.c.observed_us, t.c.rater_id,
            t.c.activity_id]
    q = sa.select(*cols).where(cond).order_by(t.c.observed_us.desc(), t.c.evidence_id)
    with store.engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).all()
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
    return [{"feedback_id": int(r[0]), "activity_id": r[1], "event": r[2], "at": _aware(r[3]),
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
    with store._write() as conn:
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
    return store._key(row), _aware(row.expires_at)


def end_session(store: Store, token: str) -> None:
    """Forget a session (sign-out); unknown tokens are ignored."""
    t = schema.coach_sessions
    with store._write() as conn:
        conn.execute(t.delete().where(t.c.session_hash == hash_key(token)))
