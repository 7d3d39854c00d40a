"""Knowledge-tracing benchmark: the engine's mastery model against BKT, logistic and pyBKT.

The data is public knowledge-tracing (KT) data read by :mod:`pipelines.kt_data` (learner =
educator, skill = competency, correct = proficient, order = time). The protocol is the one the
published KT figures use: fit on the training learners, then predict **every response of the test
learners from that learner's earlier responses only**. Every model sees the same split, and every
model that uses features reads them from the engine's own :class:`~recommender.features.FeatureBuilder`
(a test row's features come from strictly earlier evidence of the same learner; skill difficulty
is learned from the training learners only).

Each model is fitted on the whole training file (the published protocol) and, for the spread
(unless ``--folds 1``), once per train/valid fold (``train1..5`` / ``valid1..5`` of the DKVMN
files, or random folds of the training learners): on fold ``k`` it is fitted on ``train_k``,
scored on ``valid_k`` (the only data any setting was chosen on) and on the fixed test file.
LightGBM stops early on a held-out share of its training learners. The report gives the test
metrics of the whole-file fit, and their mean and standard deviation over the folds.

Models (:data:`MODELS`):

- ``lightgbm``: the engine's :class:`~recommender.models.LightGBMNoGraph`; the data has no
  prerequisite graph, so the framework is the skills alone and no ``graph_`` feature is used;
- ``lightgbm_graph``: :class:`~recommender.models.LightGBMMastery` with a framework *learned from
  the training fold* (:func:`learn_skill_graph`): skill u is a prerequisite of v when learners
  commonly answer u right before v, made acyclic, and skills are grouped into domains by community
  detection on the same transitions, so ``graph_`` and ``dom_`` features carry related-skill signals;
- ``lightgbm_counts``: a reference, not the engine: LightGBM on the learner's and the skill's answer
  counts and rates only;
- ``logistic``, ``bkt``: the engine's baselines (:mod:`recommender.models.baselines`);
- ``pybkt``: pyBKT, the reference BKT implementation, run in a separate virtual environment created
  once by hand (:mod:`pipelines.kt.pybkt_job`; see :mod:`pipelines.kt.pybkt_runner` for why).

The run writes a Markdown report (by default ``DATA_DIR/kt_benchmark/kt_NAME.md``) quoting the
published figures, the goal and the notes of the dataset's own card (:mod:`pipelines.kt.card`),
and logs one MLflow run per model (experiment ``kt-benchmark``, through :mod:`pipelines.tracking`;
nothing is registered as a ``mastery`` model version).

Modules
-------
:mod:`~pipelines.kt.config` (the models, :class:`BenchmarkConfig`),
:mod:`~pipelines.kt.graph_learning` (:func:`skill_framework`, :func:`learn_skill_graph`),
:mod:`~pipelines.kt.pybkt_job` (pyBKT in its own Python), :mod:`~pipelines.kt.frames` (feature
frames over chunks of learners, in bounded memory), :mod:`~pipelines.kt.runner`
(:func:`run_benchmark`, :class:`BenchmarkResult`), :mod:`~pipelines.kt.card` (dataset cards),
:mod:`~pipelines.kt.report` (:func:`write_report`) and :mod:`~pipelines.kt.command` (the
``pdrec benchmark-kt`` command: setup checks, MLflow, the printed table; not re-exported here, so
that importing the benchmark does not import MLflow).
"""

from pipelines.kt.card import DatasetCard, load_card, resolve_card
from pipelines.kt.config import MODELS, BenchmarkConfig, SetupError
from pipelines.kt.graph_learning import learn_skill_graph, skill_framework
from pipelines.kt.pybkt_job import PYBKT_REQUIREMENTS, check_pybkt_python
from pipelines.kt.report import write_report
from pipelines.kt.runner import BenchmarkResult, load_split, run_benchmark

__all__ = [
    "MODELS",
    "PYBKT_REQUIREMENTS",
    "BenchmarkConfig",
    "BenchmarkResult",
    "DatasetCard",
    "SetupError",
    "check_pybkt_python",
    "learn_skill_graph",
    "load_card",
    "load_split",
    "resolve_card",
    "run_benchmark",
    "skill_framework",
    "write_report",
]
