"""Repeatable activities: the catalog's ``repeatable`` and ``cooldown_days``, the cool-down in
the context, the ranker (single and batch) and the pathway, and completion times from feedback."""

import pandas as pd
import pytest

from recommender.catalog import build_catalog
from recommender.errors import CatalogError
from recommender.pathway import plan_pathway
from recommender.ranking import EducatorContext, RankingRequest, rank_activities, rank_batch
from recommender.serving import feedback_context
from tests.recommender.test_ranking import activity, framework, ids_of, table

T0 = pd.Timestamp("2025-01-01", tz="UTC")
G = framework([("FA", "AL")])


def _catalog():
    return build_catalog({"activities": [
        activity("CYCLE", {"FA": 1.0}) | {"repeatable": True, "cooldown_days": 30},
        activity("AGAIN", {"FA": 1.0}) | {"repeatable": True},  # cool-down 0
        activity("ONCE", {"FA": 1.0}),
        activity("NEXT", {"AL": 1.0}, hours=40),
    ]}, G)


def _done(days_after, **kw):
    """A context whose CYCLE, AGAIN and ONCE were completed at T0, seen ``days_after`` later."""
    return EducatorContext(completed_at={a: T0 for a in ("CYCLE", "AGAIN", "ONCE")},
                           now=T0 + pd.Timedelta(days=days_after), **kw)


def test_catalog_reads_repeatable_and_cooldown_with_defaults():
    cat = _catalog()
    assert cat.cooldowns == {"CYCLE": 30.0, "AGAIN": 0.0}
    acts = cat.activities
    assert acts["repeatable"].tolist() == [True, True, False, False]
    assert acts.loc["ONCE", "cooldown_days"] == 0.0


@pytest.mark.parametrize("extra,named", [
    ({"repeatable": "yes"}, "repeatable 'yes' must be true or false"),
    ({"repeatable": True, "cooldown_days": -1}, "cooldown_days -1 must be a number of days >= 0"),
    ({"repeatable": True, "cooldown_days": "30"}, "cooldown_days '30' must be a number"),
    ({"repeatable": True, "cooldown_days": float("nan")}, "cooldown_days nan must be a number"),
    ({"cooldown_days": 30}, "cooldown_days 30 applies only to a repeatable activity"),
])
def test_catalog_refuses_bad_repeat_fields_naming_them(extra, named):
    with pytest.raises(CatalogError) as err:
        build_catalog({"activities": [activity("X-1", {"FA": 1.0}) | extra]}, G)
    assert f"X-1: {named}" in str(err.value)


def test_cooldown_reopens_a_repeatable_activity_and_never_a_one_shot_one():
    cd = _catalog().cooldowns
    assert _done(0).completed_now(cd) == {"CYCLE", "ONCE"}  # AGAIN: no cool-down
    assert _done(29.9).completed_now(cd) == {"CYCLE", "ONCE"}
    assert _done(30).completed_now(cd) == {"ONCE"}
    assert _done(10_000).completed_now(cd) == {"ONCE"}
    # a repeatable activity completed at an unknown time stays closed
    assert EducatorContext(completed={"CYCLE"}, now=T0).completed_now(cd) == {"CYCLE"}
    # a cool-down longer than a pandas Timedelta holds (the catalog allows up to 1e6 days)
    assert _done(30).completed_now({"CYCLE": 999_999.0}) == {"CYCLE", "AGAIN", "ONCE"}


@pytest.mark.parametrize("days,expected", [(1, {"AGAIN", "NEXT"}),
                                           (31, {"AGAIN", "CYCLE", "NEXT"})])
def test_ranker_and_pathway_propose_again_after_the_cooldown_only(days, expected):
    cat = _catalog()
    mastery = table({"FA": 0.2, "AL": 0.1})
    ctx = _done(days, goals=("AL",))
    recs = rank_activities(G, cat, mastery, context=ctx, request=RankingRequest(k=10))
    assert set(ids_of(recs)) == expected and "ONCE" not in ids_of(recs)
    long = mastery[["p_mastery"]].reset_index().assign(educator_id="e")
    batch = rank_batch(G, cat, long, contexts={"e": ctx}, request=RankingRequest(k=10))
    assert batch["activity_id"].tolist() == ids_of(recs)
    plan = plan_pathway(G, cat, mastery, ["AL"], context=ctx)
    assert plan.steps[0].activity_id in expected and plan.steps[0].activity_id != "ONCE"


def test_a_pinned_repeatable_activity_shows_again_only_after_its_cooldown():
    cat = _catalog()
    mastery = table({"FA": 0.2, "AL": 0.1})
    for days, shown in ((5, False), (30, True)):
        recs = rank_activities(G, cat, mastery, context=_done(days, pinned=("CYCLE",)))
        assert (recs[0].activity_id == "CYCLE" and recs[0].pinned) is shown


def test_feedback_context_keeps_the_last_completion_time_and_new_rounds():
    day = pd.Timedelta(days=1)
    events = [
        {"activity_id": "CYCLE", "event": "completed", "at": T0},
        {"activity_id": "CYCLE", "event": "started", "at": T0 + 40 * day},
        {"activity_id": "CYCLE", "event": "completed", "at": T0 + 50 * day},
        {"activity_id": "ONCE", "event": "completed", "at": T0},
    ]
    ctx = feedback_context(events, now=T0 + 60 * day)
    assert ctx.completed == {"CYCLE", "ONCE"} and ctx.in_progress == frozenset()
    assert ctx.completed_at == {"CYCLE": T0 + 50 * day, "ONCE": T0}
    assert ctx.now == T0 + 60 * day
    assert ctx.completed_now(_catalog().cooldowns) == {"CYCLE", "ONCE"}  # 10 days < 30
    during = feedback_context(events[:2], now=T0 + 45 * day)
    assert during.in_progress == {"CYCLE"}  # a new round is under way


def test_context_checks_completion_times():
    with pytest.raises(ValueError, match="completed_at"):
        EducatorContext(completed_at={"A": "not a time"})
    assert EducatorContext(completed_at={"A": "2025-01-01"}).completed == {"A"}
