"""FeatureBuilder: evidence -> leakage-free feature frame, for training and serving alike.

One code path builds both kinds of rows, one row per *query* ``(educator, competency, as_of,
source)`` (:mod:`.context`):

- **training rows** are the evidence records themselves: the query of record *i* is its own
  educator, competency, ``observed_at`` and source, and its label is whether it was proficient;
- **serving rows** are every competency of the framework for each educator, as of a given time
  (records of the future are simply not there yet), with the reference source ``observation``.

Every feature of a query is computed from evidence **strictly earlier** than ``as_of``: records that
share a timestamp with the query never see each other (a rubric that scores five competencies in one
observation gives five simultaneous records, and none of them may inform another). Within one
timestamp, records are ordered by ``evidence_id`` so results are deterministic. Hence the serving
features of an educator as of a record's time equal that record's training features, which
``tests/recommender/test_features.py`` checks.

The evidence is coded, sorted and scanned once (:func:`.context.prepare`, with the as-of scans of
:mod:`.asof`: a few sorts of the evidence plus a binary search per query, for one educator or a
million records alike); each feature family is then one module whose docstring defines its
columns: :mod:`.own`, :mod:`.graph`, :mod:`.domain`, :mod:`.educator`, :mod:`.sequence`,
:mod:`.dose`, :mod:`.difficulty`, :mod:`.profile`. Column prefixes are the contract the models
select on. Identity columns ``educator_id``, ``as_of`` (and ``evidence_id`` on training rows) are
never model inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidEvidenceError, NotFittedError
from recommender.evidence import SOURCES
from recommender.features import difficulty, domain, dose, educator, own, profile, sequence
from recommender.features import graph as graph_family
from recommender.features.asof import NS_PER_DAY, to_ns
from recommender.features.chunks import (
    DEFAULT_MAX_PAIRS,
    check_max_pairs,
    learner_chunks,
    pairs_per_competency,
)
from recommender.features.context import Queries, Records, prepare
from recommender.features.lookup import Lookup
from recommender.features.parts import FeatureParts
from recommender.graph.queries import depths

__all__ = ["IDENTITY_COLUMNS", "SERVING_BLOCK_ROWS", "FeatureBuilder", "FitSummary"]

IDENTITY_COLUMNS = ("educator_id", "as_of", "evidence_id")
SERVING_BLOCK_ROWS = 16_384
"""Rows per block of :meth:`FeatureBuilder.serving_blocks` (a 10 MB buffer of 74 columns)."""
_SOURCE_DTYPE = pd.CategoricalDtype(list(SOURCES))
_EVIDENCE_REQUIRED = (
    "evidence_id", "educator_id", "competency_id", "source", "score_norm", "proficient",
    "observed_at",
)


@dataclass(frozen=True)
class FitSummary:
    """What :meth:`FeatureBuilder.fit` learns from, as parts that add up over disjoint sets of
    records and educators: per-competency counts (:func:`.difficulty.counts`) and the values of
    each categorical profile column. A cluster fits a builder on data no machine holds whole by
    summing its partitions' summaries (:meth:`FeatureBuilder.summarize`, ``+``) and fitting
    on the sum (:meth:`FeatureBuilder.fit_summary`).
    """

    counts: pd.DataFrame
    profile_levels: dict[str, list[str]]

    def __add__(self, other: FitSummary) -> FitSummary:
        if not self.counts.index.equals(other.counts.index):
            raise ValueError("fit summaries of different frameworks cannot be added")
        return FitSummary(self.counts + other.counts, {
            col: sorted(set(values) | set(other.profile_levels.get(col, ())))
            for col, values in self.profile_levels.items()})


class FeatureBuilder:
    """Builds leakage-free feature frames from evidence, completions, profiles and the graph.

    Parameters
    ----------
    graph : networkx.DiGraph
        The competency framework (see :mod:`recommender.graph`).
    catalog : Catalog, optional
        Maps completed activities to the competencies they develop (``dose_`` features). Without
        it, dose features are zero.
    decay_days : float, default=180
        Time constant of the exponentially decayed mean score and evidence weight.
    history_length : int, default=20
        How many past outcomes ``hist_bits`` keeps (at most 62).
    difficulty_smoothing : float, default=20
        Pseudo-count pulling each competency's learned proficiency rate toward the global rate.
    serving_source : str, default="observation"
        The evidence source a serving row asks about: "would an observer rate this proficient?".
    proficient_at : float, default=2/3
        Normalized score at which a record counts as proficient (3 on the 1-4 rubric).
    recent_window : int, default=5
        How many of the latest records ``own_recent_rate`` and ``edu_recent_rate`` average.
    sequence_context : bool, default=False
        Add the answer-order context features :data:`~.sequence.SEQUENCE_FEATURES` (which competencies
        the last two records were on, the earlier one's score, and how many records came since
        this competency or a neighbour was last evidenced). They pay off where the evidence is one
        dense sequence whose order is the time, as in knowledge tracing (ASSISTments: test AUC
        0.8213 -> 0.8311, see ``experiments/reports/``); on educator evidence, where one visit
        rates several competencies at once and the order within it means nothing, they cost
        accuracy (synthetic cohort, LightGBM: AUC 0.8172 without, 0.8154 with), so they are off
        by default.

    Attributes
    ----------
    difficulty_ : pandas.DataFrame
        Per-competency ``diff_rate``, ``diff_mean_score`` and ``diff_log_n``, set by :meth:`fit`.
    profile_levels_ : dict
        The categories of each profile column seen at :meth:`fit`; others become missing.

    Examples
    --------
    >>> builder = FeatureBuilder(graph).fit(train_evidence)          # doctest: +SKIP
    >>> X, y = builder.training_frame(train_evidence)                 # doctest: +SKIP
    >>> now = builder.serving_frame(evidence, as_of=pd.Timestamp.now(tz="UTC"),
    ...                             educator_ids=["E000001"])         # doctest: +SKIP
    """

    def __init__(
        self,
        graph: nx.DiGraph,
        *,
        catalog: Catalog | None = None,
        decay_days: float = 180.0,
        history_length: int = 20,
        difficulty_smoothing: float = 20.0,
        serving_source: str = "observation",
        proficient_at: float = 2 / 3,
        recent_window: int = 5,
        sequence_context: bool = False,
    ):
        self.graph = graph
        self.catalog = catalog
        self.decay_days = decay_days
        self.history_length = history_length
        self.difficulty_smoothing = difficulty_smoothing
        self.serving_source = serving_source
        self.proficient_at = proficient_at
        self.recent_window = recent_window
        self.sequence_context = sequence_context
        if not 1 <= recent_window:
            raise ValueError(f"recent_window must be a positive int, got {recent_window}")
        if not 1 <= history_length <= 62:
            raise ValueError(f"history_length must be in [1, 62], got {history_length}")
        if serving_source not in SOURCES:
            raise ValueError(f"serving_source {serving_source!r} is not one of {list(SOURCES)}")
        self.competencies = list(nx.lexicographical_topological_sort(graph))
        self._code = {c: i for i, c in enumerate(self.competencies)}
        self._competency_index = pd.Index(self.competencies, dtype=object)
        domains = [graph.nodes[c]["domain"] for c in self.competencies]
        self.domains = sorted(set(domains))
        self._competency_dtype = pd.CategoricalDtype(self.competencies)
        self._domain_dtype = pd.CategoricalDtype(self.domains)
        self._domain_of = np.array([self.domains.index(d) for d in domains], dtype=np.int64)
        depth = depths(graph)
        self._depth = np.array([depth[c] for c in self.competencies], dtype=np.float64)
        self._prereq = graph_family.csr(self.competencies, graph.predecessors)
        self._dependent = graph_family.csr(self.competencies, graph.successors)
        self._ancestor = graph_family.csr(self.competencies, lambda c: nx.ancestors(graph, c))
        self._descendant = graph_family.csr(self.competencies, lambda c: nx.descendants(graph, c))
        self._targets = dose.activity_targets(catalog, self._code)

    # -- public API -------------------------------------------------------------------------
    def fit(
        self, evidence: pd.DataFrame, *, educators: pd.DataFrame | None = None
    ) -> FeatureBuilder:
        """Learn competency difficulty and profile vocabularies from training data; returns self.

        Only training-fold data may be passed here: ``diff_`` features must not see the
        outcomes of held-out educators.
        """
        return self.fit_summary(self.summarize(evidence, educators=educators))

    def summarize(self, evidence: pd.DataFrame, *,
                  educators: pd.DataFrame | None = None) -> FitSummary:
        """What :meth:`fit` would learn from these records and profiles, as a
        :class:`FitSummary` that adds up with other partitions' (no fit is done)."""
        ev = self._check_evidence(evidence)
        return FitSummary(difficulty.counts(ev, self.competencies), profile.levels(educators))

    def fit_summary(self, summary: FitSummary) -> FeatureBuilder:
        """Fit on a :class:`FitSummary` (one partition's or the sum of many); returns self.

        ``builder.fit_summary(builder.summarize(ev, educators=p))`` is ``builder.fit(ev,
        educators=p)``; summed over partitions of whole educators it is the fit on all of them
        (up to the order in which scores are summed).
        """
        self.profile_levels_ = {col: list(values)
                                for col, values in summary.profile_levels.items()}
        self._profile_dtypes = profile.dtypes(self.profile_levels_)
        for derived in ("_profile_lookups", "_difficulty"):  # made from the previous fit
            self.__dict__.pop(derived, None)
        self.difficulty_ = difficulty.from_counts(summary.counts, self.difficulty_smoothing)
        return self

    def training_frame(
        self,
        evidence: pd.DataFrame,
        *,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
        max_pairs: int | None = DEFAULT_MAX_PAIRS,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """One row per evidence record, from strictly earlier evidence; returns ``(X, y)``.

        Rows come in the evidence's (observed_at, evidence_id) order. The frame is built over
        chunks of whole learners of about ``max_pairs`` (record, ancestor-or-descendant) pairs
        each (:mod:`.chunks`: memory bounded by the budget, not by records x chain length; the
        same frame, value for value); ``None`` builds it in one go.
        """
        max_pairs = check_max_pairs(max_pairs)
        ev = self._records(evidence)
        chunk = (np.zeros(len(ev), dtype=np.int64) if max_pairs is None or not len(ev) else
                 learner_chunks(ev.educator_id, self._pairs[ev.c], max_pairs))
        if not len(ev) or chunk.max() == 0:
            X = self._build(Queries.for_records(ev), ev, completions, educators)
        else:
            rows = [np.flatnonzero(chunk == k) for k in np.unique(chunk)]
            parts = [self._build(Queries.for_records(ev.take(r)), ev.take(r), completions,
                                 educators) for r in rows]
            at = np.empty(len(ev), dtype=np.int64)
            at[np.concatenate(rows)] = np.arange(len(ev))
            X = pd.concat(parts, ignore_index=True).take(at).reset_index(drop=True)
        X.insert(0, "evidence_id", ev.evidence_id)
        return X, ev.proficient.astype(np.int64)

    def serving_frame(
        self,
        evidence: pd.DataFrame,
        *,
        as_of,
        educator_ids: Iterable[str],
        competencies: Iterable[str] | None = None,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """One row per (educator, competency) as of ``as_of``, for every competency by default.

        ``as_of`` is one time for every educator, or one time per educator id (an array-like as
        long as ``educator_ids``, which must then be distinct): each educator's rows are then
        exactly the rows a call with that educator and that time alone would give (features
        read only the educator's own records before the row's time), so a batch whose
        educators are asked about different moments is one build, not one per moment.

        Educators with no evidence get rows too (their history features are missing): the model
        then leans on graph, domain, profile and difficulty features. The evidence's row order
        does not matter.
        """
        queries = self._serving_queries(as_of, educator_ids, competencies)
        return self._build(queries, self._records(evidence), completions, educators)

    def serving_matrix(
        self,
        evidence: pd.DataFrame,
        *,
        as_of,
        educator_ids: Iterable[str],
        columns: Sequence[str],
        categories: Mapping[str, Sequence] | None = None,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The serving rows of :meth:`serving_frame` as a float matrix of ``columns``, and ``own_n``.

        The matrix path to a model: no DataFrame is assembled. Numeric columns hold the frame's
        values; a categorical column holds its codes as floats (NaN when missing), against
        ``categories[column]`` when given (a model's fitted levels; levels it never saw are
        NaN, as :func:`recommender.models.base.encode_categories` reads them) or else against
        the builder's own categories. Rows are educator-major, competencies in framework order.
        """
        parts = self._serving_parts(evidence, as_of, educator_ids, completions, educators)
        return parts.matrix(columns, categories or {}), parts.numeric["own_n"]

    def serving_blocks(
        self,
        evidence: pd.DataFrame,
        *,
        as_of,
        educator_ids: Iterable[str],
        columns: Sequence[str],
        categories: Mapping[str, Sequence] | None = None,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
        block_rows: int = SERVING_BLOCK_ROWS,
    ) -> tuple[Iterator[np.ndarray], np.ndarray]:
        """:meth:`serving_matrix` in blocks of ``block_rows`` rows (an iterator of matrices, in
        row order), and ``own_n``: a model predicts block by block from one reused buffer
        instead of from one matrix of the whole batch (fewer fresh pages to fault in, a
        bounded peak). Use each block before taking the next: full blocks share the buffer."""
        if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) \
                or block_rows < 1:
            raise ValueError(f"block_rows must be a positive int; got {block_rows!r}")
        parts = self._serving_parts(evidence, as_of, educator_ids, completions, educators)
        return parts.blocks(columns, categories or {}, block_rows), parts.numeric["own_n"]

    def _serving_parts(self, evidence: pd.DataFrame, as_of, educator_ids: Iterable[str],
                       completions: pd.DataFrame | None, educators: pd.DataFrame | None
                       ) -> FeatureParts:
        """The feature parts of every competency of these educators as of ``as_of`` (what the
        matrix and block paths read)."""
        queries = self._serving_queries(as_of, educator_ids, None)
        return self._parts(queries, self._records(evidence), completions, educators)

    def categorical_dtypes(self) -> dict[str, pd.CategoricalDtype]:
        """The category dtype of every categorical column the builder produces (after fit)."""
        if not hasattr(self, "difficulty_"):
            raise NotFittedError("This FeatureBuilder is not fitted yet: call fit first.")
        return {
            "competency_id": self._competency_dtype,
            "source": _SOURCE_DTYPE,
            "domain": self._domain_dtype,
            **({c: self._competency_dtype for c in sequence.CATEGORICAL}
               if self.sequence_context else {}),
            **{f"prof_{col}": dtype for col, dtype in self._profile_dtypes.items()},
        }

    # -- the one code path ---------------------------------------------------------------
    @functools.cached_property
    def _pairs(self) -> np.ndarray:
        """Per competency code, the (record, neighbour) pairs of a record on it (:mod:`.chunks`)."""
        return pairs_per_competency(self._ancestor, self._descendant)

    @functools.cached_property
    def _neighbourhoods(self) -> graph_family.Neighbourhoods:
        """The graph family's neighbourhoods, merged once (built on first use, so builders
        pickled earlier get it)."""
        return graph_family.Neighbourhoods.of({
            "prereq": self._prereq, "dep": self._dependent, "anc": self._ancestor,
            "desc": self._descendant})

    @functools.cached_property
    def _difficulty(self) -> dict[str, np.ndarray]:
        """``difficulty_``'s columns as arrays by competency code (made again after a fit)."""
        return difficulty.table(self.difficulty_)

    @functools.cached_property
    def _competency_lookup(self) -> Lookup:
        """Competency id -> code (built on first use, so builders pickled earlier get it)."""
        return Lookup(self.competencies)

    @functools.cached_property
    def _activity_lookup(self) -> Lookup:
        """Activity id -> its position in the catalog's target index."""
        return Lookup(self._target_index.activities)

    @functools.cached_property
    def _profile_lookups(self) -> dict[str, Lookup]:
        """Profile value -> category code, per categorical profile column (after fit)."""
        return {col: Lookup(dtype.categories) for col, dtype in self._profile_dtypes.items()}

    @functools.cached_property
    def _target_index(self) -> dose.TargetIndex:
        """The catalog's targets by activity (built on first use: a builder pickled before
        this attribute existed gets it too)."""
        return dose.target_index(self._targets)

    def _check_evidence(self, evidence: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in _EVIDENCE_REQUIRED if c not in evidence.columns]
        if missing:
            raise InvalidEvidenceError(
                f"evidence frame lacks columns {missing}; expected validated evidence with "
                f"{list(_EVIDENCE_REQUIRED)} (see recommender.evidence.validate_evidence)"
            )
        unknown = sorted(set(evidence["competency_id"].unique()) - set(self._code))
        if unknown:
            raise self._unknown_competencies(unknown)
        return evidence

    def _records(self, evidence: pd.DataFrame) -> Records:
        """The evidence's arrays in record order, checked like :meth:`_check_evidence`."""
        try:
            records = Records.from_frame(evidence, self._competency_lookup)
        except KeyError:  # a column is missing
            self._check_evidence(evidence)  # raises, naming every missing column
            raise
        if (records.c < 0).any():
            self._check_evidence(evidence)  # raises, naming the unknown competencies
        return records

    def _unknown_competencies(self, unknown: list) -> InvalidEvidenceError:
        return InvalidEvidenceError(
            f"evidence names competencies not in framework "
            f"{self.graph.graph.get('name')!r}: {unknown[:10]}"
        )

    def _serving_queries(self, as_of, educator_ids: Iterable[str],
                         competencies: Iterable[str] | None) -> Queries:
        """The serving queries: every (or each given) competency of each educator, as of one
        time or of one time per educator (checked here, at the door)."""
        listed = list(educator_ids)
        ids = np.asarray(list(dict.fromkeys(listed)), dtype=object)
        if competencies is None:  # every competency, in framework order
            codes = np.arange(len(self.competencies))
        else:
            comps = list(competencies)
            unknown = [c for c in comps if c not in self._code]
            if unknown:
                raise InvalidEvidenceError(f"competencies not in the framework: {unknown}")
            codes = np.array([self._code[c] for c in comps], dtype=np.int64)
        if np.ndim(as_of) == 0:  # a Timestamp's value is UTC ns (naive ones read as UTC)
            times = np.full(len(ids), pd.Timestamp(as_of).value, dtype=np.int64)
        else:
            if len(as_of) != len(listed) or len(ids) != len(listed):
                raise ValueError(
                    f"as_of holds {len(as_of)} times for {len(listed)} educator ids "
                    f"({len(ids)} distinct); per-educator times need one per distinct id")
            times = to_ns(pd.Series(as_of))
        return Queries.for_grid(ids, codes, times, self.serving_source)

    def _parts(self, q: Queries, ev: Records, completions, educators) -> FeatureParts:
        """Every column of queries ``q``, as arrays (:class:`~.parts.FeatureParts`)."""
        if not hasattr(self, "difficulty_"):
            raise NotFittedError(
                "This FeatureBuilder is not fitted yet: call fit(training_evidence) first, so "
                "competency difficulty is learned from training data only."
            )
        h = prepare(q, ev, len(self.competencies), self.decay_days * NS_PER_DAY,
                    self._difficulty["diff_mean_score"])
        bits, length = own.packed_outcomes(h, self.history_length)
        graph_cols, latest = graph_family.columns(h, self._neighbourhoods, self._depth,
                                                  self.proficient_at)
        cols = {
            **own.history(h),
            **graph_cols,
            **domain.columns(h, self._domain_of, len(self.domains)),
            **educator.history(h, self.recent_window),
            **own.recency(h, self.recent_window, bits, length, self.history_length),
            **educator.ability(h),
            **graph_family.last_scores(latest),
        }
        codes = {"competency_id": (q.c, self._competency_dtype),
                 "source": (q.source, _SOURCE_DTYPE),
                 "domain": (self._domain_of[q.c], self._domain_dtype)}
        if self.sequence_context:
            sequence_cols, context = sequence.columns(h, latest)
            cols.update(sequence_cols)
            codes.update({name: (c, self._competency_dtype) for name, c in context.items()})
        cols.update(dose.columns(h, completions, self._target_index, self._activity_lookup,
                                 len(self.competencies)))
        cols.update(difficulty.columns(self._difficulty, q.c))
        years, prof_codes = profile.codes(educators, self._profile_lookups, h.educators,
                                          h.q_e)
        return FeatureParts(
            q=q, bits=bits, length=length, numeric=cols, prof_years=years,
            codes=codes, prof_codes={f"prof_{col}": (c, self._profile_dtypes[col])
                                     for col, c in prof_codes.items()})

    def _build(self, q: Queries, ev: Records, completions, educators) -> pd.DataFrame:
        """The feature frame of queries ``q``."""
        return self._parts(q, ev, completions, educators).frame()
