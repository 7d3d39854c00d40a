"""Feature frames built over chunks of learners equal the one-call frame, value for value."""

import numpy as np
import pandas as pd
import pytest

from pipelines.kt.frames import graph_pairs, training_frame
from pipelines.kt.graph_learning import skill_framework
from pipelines.kt_data import read_sequences, to_evidence
from recommender.features import FeatureBuilder


@pytest.fixture(scope="module")
def chain_data(tmp_path_factory):
    """12 learners answering 30 of 8 skills along a curriculum, and a chain framework."""
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(12):
        skills = (rng.integers(0, 8) + np.cumsum(rng.random(30) < 0.5)) % 8 + 1
        lines += ["30", ",".join(map(str, skills)), ",".join(map(str, rng.integers(0, 2, 30)))]
    path = tmp_path_factory.mktemp("kt") / "chain.csv"
    path.write_text("\n".join(lines) + "\n")
    responses = read_sequences(path)
    skills = [str(s) for s in range(1, 9)]
    graph = skill_framework(skills, edges=[(str(s), str(s + 1)) for s in range(1, 8)])
    return to_evidence(responses, competencies=skills), graph


def test_graph_pairs_count_ancestors_descendants_and_the_record(chain_data):
    evidence, graph = chain_data
    pairs = graph_pairs(graph, pd.Series(["1", "4", "8"]))
    assert pairs.tolist() == [8, 8, 8]  # a chain of 8: every skill reaches the 7 others
    assert graph_pairs(skill_framework(["a", "b"]), pd.Series(["a"])).tolist() == [1]


@pytest.mark.parametrize("max_pairs", [1, 500, 1000])
def test_chunked_frame_is_the_one_call_frame(chain_data, max_pairs):
    evidence, graph = chain_data
    builder = FeatureBuilder(graph, sequence_context=True).fit(evidence)
    X1, y1 = builder.training_frame(evidence)
    X2, y2 = training_frame(builder, evidence.sample(frac=1, random_state=0), graph,
                            max_pairs=max_pairs)
    pd.testing.assert_frame_equal(X2, X1, check_exact=True)
    np.testing.assert_array_equal(y2, y1)


def test_max_pairs_must_be_positive(chain_data):
    evidence, graph = chain_data
    builder = FeatureBuilder(graph).fit(evidence)
    with pytest.raises(ValueError, match="max_pairs must be a positive"):
        training_frame(builder, evidence, graph, max_pairs=0)
