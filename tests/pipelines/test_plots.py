"""The policy plot is a PNG with one panel per metric."""

from pipelines.plots import plot_policies
from recommender.catalog import default_catalog
from recommender.evaluation import simulate_policies
from recommender.graph import default_framework


def test_plot_policies_writes_a_png(tmp_path):
    graph = default_framework("educator")
    table = simulate_policies(graph, default_catalog(graph), ["random", "oracle"],
                              n_educators=20, steps=2, random_state=0, n_boot=20)
    path = plot_policies(table, tmp_path / "sub" / "p.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
