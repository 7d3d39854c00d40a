"""Evidence: validated records of what an educator showed, stored once per ``evidence_id``.

Idempotency of evidence is the primary key ``(tenant_id, evidence_id)``, and what a writer is
told comes from the database, not from a look-up made before the insert (another writer can
store the same id in between): :meth:`EvidenceStore.ingest_evidence` inserts with ``ON CONFLICT
DO NOTHING RETURNING evidence_id``, so each writer learns exactly which rows it stored, and
compares the others with the stored records (the same content: a duplicate; other content: a
conflict). Its steps follow the write paths' lock order (:mod:`recommender.store.engine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.educators import bump_versions, create_educators
from recommender.store.engine import StoreBase, chunks, insert_on_conflict, inserted, retrying

__all__ = ["Difference", "EvidenceStore", "EvidenceWrite"]

_EVIDENCE_COLUMNS = ("evidence_id", "educator_id", "competency_id", "source", "score_norm",
                     "proficient", "observed_at", "rater_id")
_CONTENT = ("educator_id", "competency_id", "source", "score", "scale_min", "scale_max",
            "observed_us", "rater_id", "activity_id")
"""The stored columns that make up what a record says (``score_norm`` and ``proficient`` follow
from them; ``ingested_us`` is when, not what): two records under one id are the same when these
are equal."""


@dataclass(frozen=True)
class Difference:
    """A field on which a record sent under a stored ``evidence_id`` differs from the stored one.

    ``field`` is the API's name (``observed_at``, not the column ``observed_us``); ``stored`` and
    ``sent`` are the two values as the store holds them (``observed_at`` as a UTC
    :class:`~pandas.Timestamp`).
    """

    field: str
    stored: Any
    sent: Any


@dataclass(frozen=True)
class EvidenceWrite:
    """What :meth:`EvidenceStore.ingest_evidence` did with each evidence id of a batch.

    Every id of the batch is in exactly one of ``accepted`` (stored by this call),
    ``duplicates`` (already stored, by anyone, with the same content) and ``conflicts`` (already
    stored with other content; the differences, in :data:`_CONTENT` order). ``educators`` are
    the educators whose ``data_version`` this call bumped (those with an accepted record), in id
    order.
    """

    accepted: set[str]
    duplicates: set[str]
    conflicts: dict[str, list[Difference]]
    educators: list[str]


class EvidenceStore(StoreBase):
    """The evidence of :class:`recommender.store.Store`."""

    def compare_evidence(self, tenant_id: str, valid: pd.DataFrame) -> dict[str, list[Difference]]:
        """How the records of ``valid`` differ from the stored records under the same ids.

        ``valid`` is validated evidence (see :meth:`ingest_evidence`). Returns, for each of its
        ids that is stored, the list of differences (empty: the same record); ids not stored
        are absent.
        """
        if valid.empty:
            return {}
        rows = _evidence_rows(tenant_id, valid, 0)
        with self.engine.connect() as conn:
            stored = _stored_content(conn, tenant_id, [r["evidence_id"] for r in rows])
        return {r["evidence_id"]: _differences(stored[r["evidence_id"]], r)
                for r in rows if r["evidence_id"] in stored}

    def ingest_evidence(self, tenant_id: str, valid: pd.DataFrame, *,
                        now: pd.Timestamp | None = None) -> EvidenceWrite:
        """Store validated evidence; say for each id whether it was stored, a duplicate or a
        conflict (see :class:`EvidenceWrite`). ``now`` stamps the rows' ``ingested_us`` (the
        caller's time, the API's the request's; None: the clock now).

        ``valid`` is :attr:`recommender.evidence.EvidenceValidation.valid` (one row per id). In
        one transaction, each step in id order (the lock order, see
        :mod:`recommender.store.engine`): the batch's educators are created where missing; the
        rows are inserted with ``ON CONFLICT DO NOTHING RETURNING evidence_id``, which names the
        rows this call stored (a row another writer stores first, even one still in progress,
        is waited for and not inserted); the rows not stored are compared with the stored
        records; the ``data_version`` of the educators of stored rows is bumped, which marks
        their stored mastery stale; educators this call created for records it did not store
        are removed again (no educator without evidence). Any failure rolls everything back; a
        deadlock or serialization failure is retried
        (:data:`~recommender.store.engine.WRITE_ATTEMPTS`).
        """
        if valid.empty:
            return EvidenceWrite(set(), set(), {}, [])
        now_us = int((pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)).value
                     // 1000)
        rows = sorted(_evidence_rows(tenant_id, valid, now_us), key=lambda r: r["evidence_id"])
        educators = sorted({r["educator_id"] for r in rows})
        insert = (insert_on_conflict(self.dialect, schema.evidence).on_conflict_do_nothing()
                  .returning(schema.evidence.c.evidence_id))

        def write(conn: Connection) -> EvidenceWrite:
            created = create_educators(conn, tenant_id, educators)
            accepted = set(inserted(conn, insert, rows))
            others = [r for r in rows if r["evidence_id"] not in accepted]
            stored = _stored_content(conn, tenant_id, [r["evidence_id"] for r in others])
            duplicates: set[str] = set()
            conflicts: dict[str, list[Difference]] = {}
            for r in others:
                if r["evidence_id"] not in stored:  # neither inserted nor there: removed since
                    raise RuntimeError(
                        f"evidence_id {r['evidence_id']!r} was neither inserted nor found in "
                        f"tenant {tenant_id!r}: it was deleted while this batch was written")
                diff = _differences(stored[r["evidence_id"]], r)
                if diff:
                    conflicts[r["evidence_id"]] = diff
                else:
                    duplicates.add(r["evidence_id"])
            touched = sorted({r["educator_id"] for r in rows if r["evidence_id"] in accepted})
            bump_versions(conn, tenant_id, touched)
            unused = sorted(created.difference(touched))
            t = schema.educators
            for part in chunks(unused):  # created by this transaction: nobody else sees them
                conn.execute(t.delete().where((t.c.tenant_id == tenant_id)
                                              & t.c.educator_id.in_(part)))
            return EvidenceWrite(accepted, duplicates, conflicts, touched)

        return retrying(self.engine, write)

    def evidence_frame(self, tenant_id: str, educator_ids: Iterable[str]) -> pd.DataFrame:
        """Validated-evidence frame of these educators: the columns the feature builder needs,
        and ``rater_id`` (None when no rater is named), which the estimator reads rater severity
        by."""
        t = schema.evidence
        ids = list(dict.fromkeys(educator_ids))
        cols = [t.c.evidence_id, t.c.educator_id, t.c.competency_id, t.c.source, t.c.score_norm,
                t.c.proficient, t.c.observed_us, t.c.rater_id]
        rows: list = []
        with self.engine.connect() as conn:
            for part in chunks(ids):
                rows.extend(conn.execute(sa.select(*cols).where(
                    (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))).all())
        names = ["evidence_id", "educator_id", "competency_id", "source", "score_norm",
                 "proficient", "observed_us", "rater_id"]
        # one column at a time from the rows (DataFrame.from_records probes every Row object,
        # which cost more than the query itself on large refreshes)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        data = dict(zip(names, columns, strict=True))
        return pd.DataFrame({
            "evidence_id": np.asarray(data["evidence_id"], dtype=object),
            "educator_id": np.asarray(data["educator_id"], dtype=object),
            "competency_id": np.asarray(data["competency_id"], dtype=object),
            "source": np.asarray(data["source"], dtype=object),
            "score_norm": np.asarray(data["score_norm"], dtype=float),
            "proficient": np.asarray(data["proficient"], dtype=bool),
            "observed_at": pd.to_datetime(np.asarray(data["observed_us"], dtype=np.int64),
                                          unit="us", utc=True),
            "rater_id": np.asarray(data["rater_id"], dtype=object),
        })[list(_EVIDENCE_COLUMNS)]

    def count_evidence(self, tenant_id: str, educator_id: str | None = None) -> int:
        """How many evidence records the tenant (or one of its educators) has stored."""
        t = schema.evidence
        q = sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)
        if educator_id is not None:
            q = q.where(t.c.educator_id == educator_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())


def _stored_content(conn: Connection, tenant_id: str, ids: Sequence[str]) -> dict[str, tuple]:
    """``{evidence_id: stored values of _CONTENT}`` for the stored ids among ``ids``."""
    t = schema.evidence
    cols = [t.c.evidence_id, *(t.c[c] for c in _CONTENT)]
    out: dict[str, tuple] = {}
    for part in chunks(list(ids)):
        for r in conn.execute(sa.select(*cols).where(
                (t.c.tenant_id == tenant_id) & t.c.evidence_id.in_(part))):
            out[r[0]] = tuple(r[1:])
    return out


def _evidence_rows(tenant_id: str, valid: pd.DataFrame, now_us: int) -> list[dict]:
    """Rows for ``executemany``: plain Python values, NaN as None."""
    observed_us = (valid["observed_at"].astype("datetime64[us, UTC]").astype("int64")).tolist()

    def opt(col: str) -> list:
        values = valid[col].astype(object)
        return values.where(values.notna(), None).tolist()

    cols = {
        "evidence_id": valid["evidence_id"].astype(str).tolist(),
        "educator_id": valid["educator_id"].astype(str).tolist(),
        "competency_id": valid["competency_id"].astype(str).tolist(),
        "source": valid["source"].astype(str).tolist(),
        "score": valid["score"].astype(float).tolist(),
        "scale_min": valid["scale_min"].astype(float).tolist(),
        "scale_max": valid["scale_max"].astype(float).tolist(),
        "score_norm": valid["score_norm"].astype(float).tolist(),
        "proficient": valid["proficient"].astype(bool).tolist(),
        "observed_us": observed_us,
        "rater_id": opt("rater_id"),
        "activity_id": opt("activity_id"),
    }
    n = len(valid)
    names = list(cols)
    columns = [cols[k] for k in names]
    return [{"tenant_id": tenant_id, "ingested_us": now_us,
             **dict(zip(names, (c[i] for c in columns), strict=True))} for i in range(n)]


def _differences(stored: tuple, sent: Mapping[str, Any]) -> list[Difference]:
    """The :data:`_CONTENT` fields on which a row for the insert differs from a stored row."""
    out = []
    for name, was in zip(_CONTENT, stored, strict=True):
        now = sent[name]
        if was != now:
            if name == "observed_us":
                out.append(Difference("observed_at", pd.Timestamp(was, unit="us", tz="UTC"),
                                      pd.Timestamp(now, unit="us", tz="UTC")))
            else:
                out.append(Difference(name, was, now))
    return out
