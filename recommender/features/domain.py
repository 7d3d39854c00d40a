"""``dom_``: the educator's history on the *other* competencies of the query's domain.

Over the educator's records strictly before ``as_of`` on competencies of the same domain,
excluding the query's own competency: ``dom_n`` how many, ``dom_rate`` the share proficient and
``dom_mean_score`` their mean score (NaN without any).
"""

from __future__ import annotations

import numpy as np

from recommender.features.asof import AsOf, ratio, stack_columns, take
from recommender.features.context import History

__all__ = ["columns"]


def columns(h: History, domain_of: np.ndarray, n_domains: int) -> dict[str, np.ndarray]:
    """``dom_`` columns; ``domain_of`` maps competency codes to domain codes below ``n_domains``."""
    dom = AsOf(h.ev_e * n_domains + domain_of[h.ev_c], h.ev_r, h.n_ranks)
    dom_cum = stack_columns(dom.offset + 1.0, dom.count(h.prof[dom.order]),
                            dom.accumulate(h.score[dom.order]))
    at = dom.index(h.q_e * n_domains + domain_of[h.q.c], h.q_r)
    sums = take(dom_cum, at) - h.own_rows[:, :3]  # the domain minus the competency itself
    return {
        "dom_n": sums[:, 0],
        "dom_rate": ratio(sums[:, 1], sums[:, 0]),
        "dom_mean_score": ratio(sums[:, 2], sums[:, 0]),
    }
