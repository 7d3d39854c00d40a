"""Hypothesis strategies for prerequisite graphs."""

from hypothesis import strategies as st


@st.composite
def dag_frameworks(draw, min_nodes=1, max_nodes=12):
    """A framework mapping whose edges always point from a lower to a higher index (a DAG)."""
    n = draw(st.integers(min_nodes, max_nodes))
    ids = [f"c{i}" for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    order = draw(st.permutations(ids))  # shuffle ids so index order is not id order
    comps = [
        {
            "id": order[j],
            "name": f"Competency {order[j]}",
            "domain": draw(st.sampled_from(["cognitive", "instructional"])),
            "prerequisites": sorted(order[i] for i, jj in chosen if jj == j),
        }
        for j in range(n)
    ]
    return {"name": "generated", "competencies": comps}


@st.composite
def mastery_maps(draw, ids):
    """A mastery map over a subset of ``ids`` with probabilities in [0, 1]."""
    keys = draw(st.lists(st.sampled_from(sorted(ids)), unique=True)) if ids else []
    return {k: draw(st.floats(0, 1)) for k in keys}
