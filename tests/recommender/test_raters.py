"""Rater severity: planted severities are recovered, and few ratings are shrunk toward zero."""

import numpy as np
import pandas as pd
import pytest

from recommender.raters import SEVERITY_COLUMNS, fit_rater_severity


def _cohort(seed=0, n_educators=400, n_raters=12, per_educator=24, few=None):
    """Evidence where each educator is observed by their own rater and also by unbiased
    sources; rater r adds ``truth[r]`` logits of leniency to observations."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 0.6, n_raters)
    skill = rng.normal(0, 1.0, n_educators)
    rows = []
    for e in range(n_educators):
        rater = e % n_raters
        for k in range(per_educator):
            source = "observation" if k % 2 == 0 else "micro_credential"
            lean = truth[rater] if source == "observation" else 0.0
            prof = skill[e] + lean + rng.normal(0, 0.8) >= 0
            rows.append({"educator_id": f"E{e}", "competency_id": f"C{k % 6}", "source": source,
                         "proficient": bool(prof),
                         "rater_id": f"R{rater}" if source == "observation" else None})
    if few:
        rows.append({**rows[0], "rater_id": "R-new", "proficient": not rows[0]["proficient"]})
    return pd.DataFrame(rows), truth


def test_planted_severities_are_recovered():
    ev, truth = _cohort()
    table = fit_rater_severity(ev)
    assert tuple(table.columns) == SEVERITY_COLUMNS and len(table) == len(truth)
    est = table.set_index("rater_id")["severity"].reindex([f"R{r}" for r in range(len(truth))])
    # severity is harshness: the planted leniency with its sign flipped
    assert np.corrcoef(est, -truth)[0, 1] > 0.9
    assert (table["severity_low"] < table["severity"]).all()
    assert (table["severity"] < table["severity_high"]).all()


def test_a_rater_with_one_rating_is_shrunk_toward_zero():
    ev, _ = _cohort(few=True)
    table = fit_rater_severity(ev).set_index("rater_id")
    new = table.loc["R-new"]
    assert new["n_ratings"] == 1
    assert abs(new["severity"]) < table["severity"].abs().drop("R-new").max()
    assert new["severity_high"] - new["severity_low"] > (
        table["severity_high"] - table["severity_low"]).drop("R-new").max()


def test_no_named_raters_gives_an_empty_table_and_missing_columns_are_named():
    ev, _ = _cohort(n_educators=20)
    assert fit_rater_severity(ev.drop(columns="rater_id")).empty
    with pytest.raises(Exception, match=r"lacks columns \['proficient'\]"):
        fit_rater_severity(ev.drop(columns="proficient"))
