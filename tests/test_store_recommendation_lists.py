"""The recommendation log stored one row per shown list (migration 0009), on SQLite and
PostgreSQL: item rows in, the same item rows out; the migration from a store at 0008 moves every
item row into lists, and its downgrade moves them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources

import hypothesis.strategies as st
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import given

from recommender.store import open_store, schema
from recommender.store.audit import ITEM_COLUMNS, LIST_COLUMNS, item_rows, shown_lists
from tests.migrations import upgraded_to

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _answer(request_id, educator_id, n, *, kind="recommend", at=NOW, explored=True, **more):
    """The item rows of one shown list of ``n`` items."""
    return [{"tenant_id": "acme", "request_id": request_id, "educator_id": educator_id,
             "kind": kind, "rank": i + 1, "activity_id": f"ACT-{i:03d}", "score": 1.0 / (i + 1),
             "model_name": "lightgbm", "model_version": "3", "key_id": "k1", "shown_at": at,
             "propensity": 0.5 if explored else None, "policy": "softmax" if explored else None,
             "ranker_rank": n - i if explored else None, "evidence_policy": "p0", **more}
            for i in range(n)]


def _items(frame: pd.DataFrame) -> list[tuple]:
    """The item rows of a log frame, comparable across stores (times as UTC instants)."""
    rows = frame.drop(columns="log_id").to_dict("records")
    return [tuple(_instant(r[c]) if c == "shown_at" else (None if pd.isna(r[c]) else r[c])
                  for c in (*LIST_COLUMNS, *ITEM_COLUMNS)) for r in rows]


def _instant(t):
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _expected(rows: list[dict]) -> list[tuple]:
    return [tuple(_instant(r[c]) if c == "shown_at" else r.get(c)
                  for c in (*LIST_COLUMNS, *ITEM_COLUMNS)) for r in rows]


def test_item_rows_are_stored_one_row_per_list_and_read_back_as_items(url):
    store = open_store(url)
    try:
        store.ensure_tenant("acme")
        first = _answer("r1", "T1", 5) + _answer("r1", "T2", 3, kind="batch")
        pathway = _answer("r2", "T1", 2, kind="pathway", explored=False, score=None)
        store.log_recommendations(first)
        store.log_recommendations(pathway)
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(schema.recommendation_lists)).all()
        assert len(stored) == 3  # three lists, ten items
        log = store.recommendation_log("acme")
        assert _items(log) == _expected(first + pathway)
        assert log["log_id"].nunique() == 3 and list(log.columns)[0] == "log_id"
        assert _items(store.recommendation_log("acme", "T2")) == _expected(first[5:])
        assert store.recommendation_log("other").empty
    finally:
        store.dispose()


@given(st.lists(st.tuples(st.sampled_from(["r1", "r2"]), st.sampled_from(["T1", "T2"]),
                          st.integers(1, 4)), max_size=6))
def test_shown_lists_and_item_rows_are_inverse(answers):
    rows = [r for request, educator, n in answers for r in _answer(request, educator, n)]
    lists = shown_lists(rows)
    assert len(lists) <= len(answers)
    back = item_rows([{"log_id": i, **s} for i, s in enumerate(lists)])
    assert [{k: v for k, v in r.items() if k != "log_id"} for r in back] == rows


def _alembic(engine, action, revision):
    cfg = Config()
    cfg.set_main_option("script_location",
                        str(resources.files("recommender.store").joinpath("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_migration_0009_moves_a_0008_log_into_lists_and_back(url):
    engine = upgraded_to(url, "0008")
    old = sa.Table("recommendation_log", sa.MetaData(), autoload_with=engine)
    # two workers' flushes interleave their log ids; a list lacking the later columns; a list
    # whose rows are not adjacent to each other
    a, b = _answer("r1", "T1", 3), _answer("r2", "T2", 2, at=NOW + timedelta(seconds=1))
    c = [{k: v for k, v in r.items() if k not in ("propensity", "policy", "ranker_rank",
                                                  "evidence_policy")}
         for r in _answer("r3", "T1", 2, explored=False)]
    written = [a[0], b[0], a[1], b[1], a[2], *c]
    with engine.begin() as conn:
        conn.execute(old.insert(), [{**{k: None for k in ("propensity", "policy", "ranker_rank",
                                                          "evidence_policy")}, **r}
                                    for r in written])
    engine.dispose()
    store = open_store(url)  # migrates to head
    try:
        names = set(sa.inspect(store.engine).get_table_names())
        assert "recommendation_lists" in names and "recommendation_log" not in names
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(
                schema.recommendation_lists)).scalar() == 3
        log = store.recommendation_log("acme")
        assert _items(log) == _expected(a + b + [{**r, "propensity": None, "policy": None,
                                                  "ranker_rank": None, "evidence_policy": None}
                                                 for r in c])
        _alembic(store.engine, command.downgrade, "0008")
        with store.engine.connect() as conn:
            back = conn.execute(sa.select(old).order_by(old.c.log_id)).mappings().all()
        assert sorted(_expected([dict(r) for r in back])) == sorted(_items(log))
        assert "recommendation_lists" not in sa.inspect(store.engine).get_table_names()
    finally:
        store.dispose()
