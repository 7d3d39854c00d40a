"""Evidence -> feature frame, leakage-free, for training and serving alike.

One code path builds both kinds of rows. A *query* is ``(educator, competency, as_of, source)``:

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

How: evidence is sorted by group (educator x competency, educator x domain, educator, ...) and time;
per-group cumulative sums are taken once; each query finds, with one ``searchsorted`` on a composite
(group, time-rank) key, the last record of its group before ``as_of`` and reads the sums there.
Everything is vectorized numpy/pandas; the cost is a few sorts of the evidence plus a binary search
per query, for one educator or a million records alike.

Feature families (column prefixes are the contract the models select on):

=========  =====================================================================================
``own_``   the educator's history on this competency: counts, proficiency rate, mean score,
           time-decayed mean, last score, days since last, trend, count/mean per source, the
           proficiency rate of the last ``recent_window`` records, the first record's score
           (``own_first_score``), ``own_streak`` (+k after k proficient records in a row on it,
           -k after k not proficient) and, with ``sequence_context``, ``own_n_between``: how many
           of the educator's records (on any competency) came since the last one on this
           competency (recency counted in evidence rather than days)
``graph_`` evidence on the direct prerequisites (``graph_prereq_mastery``: mean of their
           decayed mean scores; min, count with evidence, share proficient), on direct
           dependents (``graph_dep_``), on all ancestors (``graph_anc_``) and all
           descendants (``graph_desc_``) and the competency's depth and degree in the prerequisite graph;
           the score of the latest record on a direct prerequisite (``graph_prereq_last_score``)
           or dependent (``graph_dep_last_score``) and, with ``sequence_context``, how many
           records came since it (``_n_since``)
``dom_``   the educator's history on the other competencies of the same domain
``edu_``   the educator's history on all competencies: counts, rate, mean score, time-decayed
           mean, the last record's score and days since it, the rate of the last
           ``recent_window`` records, days since the first record, how many competencies were
           evidenced and the mean score of their first records, the mean (and decayed mean)
           residual ``score - diff_mean_score`` (ability net of the difficulty of what was
           evidenced), and, with ``sequence_context``, the competencies of the last two records
           (``edu_last_competency``, ``edu_prev_competency``, categorical) and the earlier one's
           score (``edu_prev_score``)
``dose_``  activities completed that target this competency: since the last evidence and in total
``diff_``  the competency's difficulty, learned by :meth:`FeatureBuilder.fit` on training folds only
``prof_``  the educator's profile (experience, role, subject, grade band)
=========  =====================================================================================

``hist_bits``/``hist_len`` pack the last ``history_length`` outcomes on the competency (oldest in
bit 0) for sequence models such as BKT. Identity columns ``educator_id``, ``as_of`` (and
``evidence_id`` on training rows) are never model inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidEvidenceError, NotFittedError
from recommender.evidence import SOURCES
from recommender.graph.queries import depths

__all__ = ["SOURCES", "FeatureBuilder", "IDENTITY_COLUMNS", "SEQUENCE_FEATURES"]

IDENTITY_COLUMNS = ("educator_id", "as_of", "evidence_id")
_SOURCE_INDEX = pd.Index(SOURCES, dtype=object)
_SOURCE_DTYPE = pd.CategoricalDtype(list(SOURCES))
_SEQUENCE_CATEGORICAL = ("edu_last_competency", "edu_prev_competency")
SEQUENCE_FEATURES = (*_SEQUENCE_CATEGORICAL, "edu_prev_score", "own_n_between",
                     "graph_prereq_n_since", "graph_dep_n_since")
"""Columns added only with ``FeatureBuilder(sequence_context=True)``: the answer order as context."""
_EVIDENCE_REQUIRED = (
    "evidence_id", "educator_id", "competency_id", "source", "score_norm", "proficient",
    "observed_at",
)
_PROFILE_CATEGORICALS = ("role", "subject", "grade_band")
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class _Queries:
    """Queries as arrays: educator id, competency code, as-of time (ns), source code."""

    educator_ids: np.ndarray  # object/str ids, one per query
    c: np.ndarray
    t: np.ndarray
    source: np.ndarray


class _AsOf:
    """Per-group cumulative sums over time, looked up strictly before a time.

    ``groups`` and ``ranks`` are int64 arrays (time as a dense rank shared with the queries).
    Records are sorted once by (group, rank, input position); :meth:`accumulate` then takes
    exact per-group running sums of any value columns in that order.
    """

    def __init__(self, groups: np.ndarray, ranks: np.ndarray, n_ranks: int):
        self.order = np.lexsort((np.arange(len(groups)), ranks, groups))
        self.groups = groups[self.order]
        self.n_ranks = np.int64(n_ranks + 1)
        self.keys = self.groups * self.n_ranks + ranks[self.order]
        m = len(self.order)
        starts = np.r_[True, self.groups[1:] != self.groups[:-1]] if m else np.zeros(0, bool)
        self.start = np.maximum.accumulate(np.where(starts, np.arange(m), 0))

    def accumulate(self, sorted_values: np.ndarray) -> np.ndarray:
        """Running sums of ``sorted_values`` (already in sorted order) restarting per group.

        A segmented Hillis-Steele scan: ``log2(longest group)`` vectorized passes. Each group's
        sums depend only on that group's values, so they are the same whatever else is in the
        evidence (one educator's rows or a million), which keeps serving equal to training.
        """
        out = np.array(sorted_values, dtype=np.float64, copy=True)
        offset_in_group = np.arange(len(out)) - self.start
        step = 1
        longest = int(offset_in_group.max(initial=0)) + 1
        while step < longest:
            rows = np.nonzero(offset_in_group >= step)[0]
            out[rows] += out[rows - step]  # fancy-index read happens before the write
            step *= 2
        return out

    def decayed(self, sorted_times: np.ndarray, sorted_values: np.ndarray, tau: float) -> np.ndarray:
        """Per record, ``sum_j exp(-(t_i - t_j) / tau) * v_j`` over its group's records up to it.

        The same segmented scan as :meth:`accumulate`, on the linear recurrence
        ``S_i = a_i S_{i-1} + v_i`` with ``a_i = exp(-(t_i - t_{i-1}) / tau) <= 1``: no weight
        ever exceeds one, so long histories with a short ``tau`` cannot overflow.
        """
        b = np.array(sorted_values, dtype=np.float64, copy=True)
        gap = np.diff(np.asarray(sorted_times, dtype=np.float64), prepend=0.0)
        a = np.exp(-np.maximum(gap, 0.0) / tau)
        offset_in_group = np.arange(len(b)) - self.start
        a[offset_in_group == 0] = 0.0
        step = 1
        longest = int(offset_in_group.max(initial=0)) + 1
        while step < longest:
            rows = np.nonzero(offset_in_group >= step)[0]
            b[rows] = b[rows] + a[rows] * b[rows - step]  # reads happen before the writes
            a[rows] = a[rows] * a[rows - step]
            step *= 2
        return b

    def window(self, cum: np.ndarray, pos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``cum``'s columns over the last ``k`` records up to ``pos`` (-1: none), and
        how many records that is (fewer at the start of a group)."""
        hit = pos >= 0
        p = np.maximum(pos, 0)
        if not len(cum):
            return np.zeros((len(pos), cum.shape[1])), np.zeros(len(pos))
        back = p - k
        inside = back >= self.start[p]
        prev = np.where(inside[:, None], cum[np.maximum(back, 0)], 0.0)
        n = np.where(hit, np.minimum(k, p - self.start[p] + 1), 0).astype(np.float64)
        return np.where(hit[:, None], cum[p] - prev, 0.0), n

    def index(self, groups: np.ndarray, ranks: np.ndarray, inclusive: bool = False) -> np.ndarray:
        """Position (in sorted order) of each query's last record before its rank, or -1."""
        if not len(self.keys):
            return np.full(len(groups), -1)
        keys = groups * self.n_ranks + ranks
        pos = np.searchsorted(self.keys, keys, side="right" if inclusive else "left") - 1
        ok = pos >= 0
        ok[ok] = self.groups[pos[ok]] == groups[ok]
        return np.where(ok, pos, -1)


def _take(cum: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows of ``cum`` at ``pos``; zeros where ``pos`` is -1 (no history)."""
    out = np.zeros((len(pos), cum.shape[1]))
    hit = pos >= 0
    out[hit] = cum[pos[hit]]
    return out


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
        Add the answer-order context features :data:`SEQUENCE_FEATURES` (which competencies the
        last two records were on, the earlier one's score, and how many records came since this
        competency or a neighbour was last evidenced). They pay off where the evidence is one
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
        self._prereq = self._csr(graph.predecessors)
        self._dependent = self._csr(graph.successors)
        self._ancestor = self._csr(lambda c: nx.ancestors(graph, c))
        self._descendant = self._csr(lambda c: nx.descendants(graph, c))
        self._targets = self._activity_targets(catalog)

    # -- static structure ----------------------------------------------------------------
    def _csr(self, neighbours) -> tuple[np.ndarray, np.ndarray]:
        lists = [sorted(self._code[n] for n in neighbours(c)) for c in self.competencies]
        indptr = np.r_[0, np.cumsum([len(x) for x in lists])].astype(np.int64)
        indices = np.array([i for x in lists for i in x], dtype=np.int64)
        return indptr, indices

    def _activity_targets(self, catalog: Catalog | None) -> pd.DataFrame:
        if catalog is None:
            return pd.DataFrame(columns=["activity_id", "c", "weight", "gain", "hours"])
        t = catalog.targets.merge(
            catalog.activities[["expected_gain", "hours"]], left_on="activity_id", right_index=True
        )
        unknown = sorted(set(t["competency_id"]) - set(self._code))
        if unknown:
            raise InvalidEvidenceError(f"catalog targets competencies not in the framework: {unknown}")
        return pd.DataFrame(
            {
                "activity_id": t["activity_id"].astype(str).to_numpy(),
                "c": t["competency_id"].map(self._code).to_numpy(np.int64),
                "weight": t["weight"].to_numpy(float),
                "gain": (t["weight"] * t["expected_gain"]).to_numpy(float),
                "hours": (t["weight"] * t["hours"]).to_numpy(float),
            }
        )

    # -- public API -------------------------------------------------------------------------
    def fit(
        self, evidence: pd.DataFrame, *, educators: pd.DataFrame | None = None
    ) -> FeatureBuilder:
        """Learn competency difficulty and profile vocabularies from training data; returns self.

        Only training-fold data may be passed here: ``diff_`` features must not see the
        outcomes of held-out educators.
        """
        ev = self._check_evidence(evidence)
        self.profile_levels_ = {
            col: sorted(educators[col].dropna().astype(str).unique())
            if educators is not None and col in educators
            else []
            for col in _PROFILE_CATEGORICALS
        }
        self._profile_dtypes = {
            col: pd.CategoricalDtype(pd.Index(levels, dtype=object))
            for col, levels in self.profile_levels_.items()
        }
        prof = ev["proficient"].astype(float)
        global_rate = float(prof.mean()) if len(ev) else 0.5
        global_score = float(ev["score_norm"].mean()) if len(ev) else 0.5
        g = pd.DataFrame({"c": ev["competency_id"], "p": prof, "s": ev["score_norm"]}).groupby(
            "c", observed=False
        )
        stats = pd.DataFrame({"n": g.size(), "p": g["p"].sum(), "s": g["s"].sum()}).reindex(
            self.competencies, fill_value=0.0
        )
        k = self.difficulty_smoothing
        self.difficulty_ = pd.DataFrame(
            {
                "diff_rate": (stats["p"] + k * global_rate) / (stats["n"] + k),
                "diff_mean_score": (stats["s"] + k * global_score) / (stats["n"] + k),
                "diff_log_n": np.log1p(stats["n"].astype(float)),
            },
            index=self.competencies,
        )
        return self

    def training_frame(
        self,
        evidence: pd.DataFrame,
        *,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """One row per evidence record, from strictly earlier evidence; returns ``(X, y)``.

        Rows come in the evidence's (observed_at, evidence_id) order.
        """
        ev = self._check_evidence(evidence)
        ev = ev.sort_values(["observed_at", "evidence_id"], kind="stable", ignore_index=True)
        queries = _Queries(
            educator_ids=ev["educator_id"].to_numpy(),
            c=self._competency_index.get_indexer(ev["competency_id"].to_numpy(dtype=object)),
            t=_ns(ev["observed_at"]),
            source=_SOURCE_INDEX.get_indexer(ev["source"].to_numpy(dtype=object)),
        )
        X = self._build(queries, ev, completions, educators)
        X.insert(0, "evidence_id", ev["evidence_id"].to_numpy())
        return X, ev["proficient"].to_numpy(dtype=np.int64)

    def serving_frame(
        self,
        evidence: pd.DataFrame,
        *,
        as_of: pd.Timestamp | str,
        educator_ids: Iterable[str],
        competencies: Iterable[str] | None = None,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """One row per (educator, competency) as of ``as_of``, for every competency by default.

        Educators with no evidence get rows too (their history features are missing): the model
        then leans on graph, domain, profile and difficulty features.
        """
        ev = self._check_evidence(evidence)
        ids = np.asarray(list(dict.fromkeys(educator_ids)), dtype=object)
        comps = self.competencies if competencies is None else list(competencies)
        unknown = [c for c in comps if c not in self._code]
        if unknown:
            raise InvalidEvidenceError(f"competencies not in the framework: {unknown}")
        codes = np.array([self._code[c] for c in comps], dtype=np.int64)
        at = pd.Timestamp(as_of)
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
        n = len(ids) * len(codes)
        queries = _Queries(
            educator_ids=np.repeat(ids, len(codes)),
            c=np.tile(codes, len(ids)),
            t=np.full(n, at.value, dtype=np.int64),
            source=np.full(n, SOURCES.index(self.serving_source), dtype=np.int64),
        )
        return self._build(queries, ev, completions, educators)

    def categorical_dtypes(self) -> dict[str, pd.CategoricalDtype]:
        """The category dtype of every categorical column the builder produces (after fit)."""
        if not hasattr(self, "difficulty_"):
            raise NotFittedError("This FeatureBuilder is not fitted yet: call fit first.")
        return {
            "competency_id": self._competency_dtype,
            "source": _SOURCE_DTYPE,
            "domain": self._domain_dtype,
            **({c: self._competency_dtype for c in _SEQUENCE_CATEGORICAL}
               if self.sequence_context else {}),
            **{f"prof_{col}": dtype for col, dtype in self._profile_dtypes.items()},
        }

    # -- the one code path ---------------------------------------------------------------
    def _check_evidence(self, evidence: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in _EVIDENCE_REQUIRED if c not in evidence.columns]
        if missing:
            raise InvalidEvidenceError(
                f"evidence frame lacks columns {missing}; expected validated evidence with "
                f"{list(_EVIDENCE_REQUIRED)} (see recommender.evidence.validate_evidence)"
            )
        unknown = sorted(set(evidence["competency_id"].unique()) - set(self._code))
        if unknown:
            raise InvalidEvidenceError(
                f"evidence names competencies not in framework "
                f"{self.graph.graph.get('name')!r}: {unknown[:10]}"
            )
        return evidence

    def _build(self, q: _Queries, ev: pd.DataFrame, completions, educators) -> pd.DataFrame:
        if not hasattr(self, "difficulty_"):
            raise NotFittedError(
                "This FeatureBuilder is not fitted yet: call fit(training_evidence) first, so "
                "competency difficulty is learned from training data only."
            )
        n_comp, n_q = len(self.competencies), len(q.c)
        # Educator codes over evidence and queries together; time as a dense shared rank.
        all_ids = np.concatenate([ev["educator_id"].to_numpy(dtype=object),
                                  np.asarray(q.educator_ids, dtype=object)])
        codes, _ = pd.factorize(all_ids)
        ev_e, q_e = codes[: len(ev)].astype(np.int64), codes[len(ev):].astype(np.int64)
        ev_t = _ns(ev["observed_at"])
        ev_c = self._competency_index.get_indexer(ev["competency_id"].to_numpy(dtype=object))
        ev_src = _SOURCE_INDEX.get_indexer(ev["source"].to_numpy(dtype=object))
        times, inverse = np.unique(np.r_[ev_t, q.t], return_inverse=True)
        ev_r, q_r = inverse[: len(ev)].astype(np.int64), inverse[len(ev):].astype(np.int64)
        score = ev["score_norm"].to_numpy(float)
        prof = ev["proficient"].to_numpy(bool).astype(float)

        own = _AsOf(ev_e * n_comp + ev_c, ev_r, len(times))
        s_sorted, p_sorted, t_sorted = score[own.order], prof[own.order], ev_t[own.order]
        # Decay weights relative to the group's first record: exact per group, mean invariant.
        t_first = t_sorted[own.start]
        tau = self.decay_days * _NS_PER_DAY
        w = np.exp((t_sorted - t_first) / tau)
        src = ev_src[own.order][:, None] == np.arange(len(SOURCES))[None, :]
        own_cum = own.accumulate(
            np.column_stack([np.ones(len(ev)), p_sorted, s_sorted, w, w * s_sorted, src,
                             src * s_sorted[:, None]])
        )
        bits, length = self._history_bits(own, p_sorted)
        decay_mean_sorted = _ratio(own_cum[:, 4], own_cum[:, 3])  # per record, read by neighbours

        def own_at(pos: np.ndarray, cum: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
            """Own-history features of the lookups at sorted positions ``pos`` (-1: none),
            whose cumulative sums are ``cum``."""
            hit = pos >= 0
            p = np.maximum(pos, 0)
            n = cum[:, 0]
            last = np.where(hit, s_sorted[p] if len(ev) else 0.0, np.nan)
            out = {
                "own_n": n,
                "own_rate": _ratio(cum[:, 1], n),
                "own_mean_score": _ratio(cum[:, 2], n),
                "own_last_score": last,
                "own_days_since": np.where(hit, (at - (t_sorted[p] if len(ev) else 0)) / _NS_PER_DAY,
                                           np.nan),
                "own_trend": last - _ratio(cum[:, 2] - np.nan_to_num(last), n - 1),
                "own_decay_mean": _ratio(cum[:, 4], cum[:, 3]),
                "own_decay_weight": np.where(
                    hit, cum[:, 3] * np.exp(-(at - (t_first[p] if len(ev) else 0)) / tau), 0.0
                ),
            }
            k = len(SOURCES)
            for i, name in enumerate(SOURCES):
                out[f"own_n_{name}"] = cum[:, 5 + i]
                out[f"own_mean_{name}"] = _ratio(cum[:, 5 + k + i], cum[:, 5 + i])
            return out

        pos = own.index(q_e * n_comp + q.c, q_r)
        own_rows = _take(own_cum, pos)
        cols = own_at(pos, own_rows, q.t)
        hist_bits = np.where(pos >= 0, bits[np.maximum(pos, 0)] if len(ev) else 0, 0)
        hist_len = np.where(pos >= 0, length[np.maximum(pos, 0)] if len(ev) else 0, 0)

        # Graph: prerequisites' and dependents' own history, and static structure.
        own_rank = ev_r[own.order]
        latest: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (score, rank) of latest
        neighbourhoods = (("prereq", self._prereq), ("dep", self._dependent),
                          ("anc", self._ancestor), ("desc", self._descendant))
        for name, (indptr, indices) in neighbourhoods:
            counts = np.diff(indptr)[q.c]
            qi = np.repeat(np.arange(n_q), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            neigh = indices[np.repeat(indptr[q.c], counts) + offsets]
            npos = own.index(q_e[qi] * n_comp + neigh, q_r[qi])
            has = npos >= 0
            mean = (np.where(has, decay_mean_sorted[np.maximum(npos, 0)], np.nan) if len(ev)
                    else np.full(len(npos), np.nan))
            n_has = np.bincount(qi, weights=has, minlength=n_q).astype(float)
            total = np.bincount(qi, weights=np.where(has, mean, 0.0), minlength=n_q).astype(float)
            lowest = np.full(n_q, np.inf)
            np.minimum.at(lowest, qi[has], mean[has])
            n_prof = np.bincount(qi, weights=has & (np.nan_to_num(mean) >= self.proficient_at),
                                 minlength=n_q).astype(float)
            cols[f"graph_{name}_mastery"] = _ratio(total, n_has)
            cols[f"graph_{name}_min"] = np.where(n_has > 0, lowest, np.nan)
            cols[f"graph_{name}_n_evidenced"] = n_has
            cols[f"graph_{name}_share_proficient"] = _ratio(n_prof, counts.astype(float))
            if name in ("prereq", "dep") and len(ev):
                # the latest record on any direct neighbour: which one, per query
                rank = np.where(has, own_rank[np.maximum(npos, 0)], -1)
                order = np.lexsort((rank, qi))
                last = np.r_[qi[order][1:] != qi[order][:-1], True] if len(order) else order
                sel = order[last]
                sel = sel[has[sel]]
                l_score, l_rank = np.full(n_q, np.nan), np.full(n_q, -1, dtype=np.int64)
                l_score[qi[sel]] = s_sorted[npos[sel]]
                l_rank[qi[sel]] = rank[sel]
                latest[name] = (l_score, l_rank)
        cols["graph_depth"] = self._depth[q.c]
        cols["graph_n_prereqs"] = np.diff(self._prereq[0])[q.c].astype(float)
        cols["graph_n_dependents"] = np.diff(self._dependent[0])[q.c].astype(float)

        # Same domain (other competencies than this one) and educator level.
        own_cum3 = own_rows[:, :3]
        n_dom = len(self.domains)
        dom = _AsOf(ev_e * n_dom + self._domain_of[ev_c], ev_r, len(times))
        dom_cum = dom.accumulate(np.column_stack([np.ones(len(ev)), prof, score])[dom.order])
        dcum = _take(dom_cum, dom.index(q_e * n_dom + self._domain_of[q.c], q_r)) - own_cum3
        edu = _AsOf(ev_e, ev_r, len(times))
        edu_cum = edu.accumulate(np.column_stack([np.ones(len(ev)), prof, score])[edu.order])
        epos = edu.index(q_e, q_r)
        ecum = _take(edu_cum, epos)
        cols["dom_n"] = dcum[:, 0]
        cols["dom_rate"] = _ratio(dcum[:, 1], dcum[:, 0])
        cols["dom_mean_score"] = _ratio(dcum[:, 2], dcum[:, 0])
        cols["edu_n"] = ecum[:, 0]
        cols["edu_rate"] = _ratio(ecum[:, 1], ecum[:, 0])
        cols["edu_mean_score"] = _ratio(ecum[:, 2], ecum[:, 0])
        first_t = ev_t[edu.order][edu.start][np.maximum(epos, 0)] if len(ev) else 0
        cols["edu_days_active"] = np.where(epos >= 0, (q.t - first_t) / _NS_PER_DAY, np.nan)
        # Recency and momentum: the latest record, a short window, a decayed mean, and how many
        # records (of any competency) came since this competency was last evidenced.
        k = self.recent_window
        e_score, e_t = score[edu.order], ev_t[edu.order]
        ep = np.maximum(epos, 0)
        ehit = epos >= 0
        cols["edu_last_score"] = np.where(ehit, e_score[ep] if len(ev) else 0.0, np.nan)
        cols["edu_days_since"] = np.where(ehit, (q.t - (e_t[ep] if len(ev) else 0)) / _NS_PER_DAY,
                                          np.nan)
        wsum, wn = edu.window(edu_cum, epos, k)
        cols["edu_recent_rate"] = _ratio(wsum[:, 1], wn)
        e_w = edu.decayed(e_t, np.ones(len(ev)), tau)
        e_ws = edu.decayed(e_t, e_score, tau)
        cols["edu_decay_mean"] = np.where(ehit, _ratio(e_ws[ep], e_w[ep]) if len(ev) else 0.0,
                                          np.nan)
        osum, on = own.window(own_cum[:, :2], pos, k)
        cols["own_recent_rate"] = _ratio(osum[:, 1], on)
        cols["own_streak"] = _streak(hist_bits, hist_len, self.history_length)
        # First records: the score of the first record on this competency and, over all
        # competencies, how many were evidenced and the mean score of their first records.
        cols["own_first_score"] = np.where(pos >= 0, s_sorted[own.start[np.maximum(pos, 0)]]
                                           if len(ev) else 0.0, np.nan)
        first = np.zeros(len(ev))
        first[own.order] = np.arange(len(ev)) == own.start
        fc = _take(edu.accumulate(np.column_stack([first, first * score])[edu.order]), epos)
        cols["edu_n_competencies"] = fc[:, 0]
        cols["edu_first_mean_score"] = _ratio(fc[:, 1], fc[:, 0])
        # Ability net of difficulty: the educator's scores minus their competencies' mean scores.
        resid = score - self.difficulty_["diff_mean_score"].to_numpy()[ev_c] if len(ev) else score
        r_sorted = resid[edu.order]
        r_cum = edu.accumulate(r_sorted)
        cols["edu_mean_residual"] = np.where(ehit, _ratio(r_cum[ep], ecum[:, 0]) if len(ev) else 0.0,
                                             np.nan)
        e_wr = edu.decayed(e_t, r_sorted, tau)
        cols["edu_decay_residual"] = np.where(ehit, _ratio(e_wr[ep], e_w[ep]) if len(ev) else 0.0,
                                              np.nan)
        for name in ("prereq", "dep"):
            cols[f"graph_{name}_last_score"] = (latest[name][0] if name in latest
                                                 else np.full(n_q, np.nan))
        context = {}
        if self.sequence_context:  # answer order as context (SEQUENCE_FEATURES)
            last_rank = np.where(pos >= 0, own_rank[np.maximum(pos, 0)] if len(ev) else 0, 0)
            upto = _take(edu_cum[:, :1], edu.index(q_e, last_rank, inclusive=True))[:, 0]
            cols["own_n_between"] = np.where(pos >= 0, ecum[:, 0] - upto, np.nan)
            prev = np.where(ehit & (ep - 1 >= (edu.start[ep] if len(ev) else 0)), ep - 1, -1)
            e_c = ev_c[edu.order]
            last_c = np.where(ehit, e_c[ep] if len(ev) else -1, -1)
            prev_c = np.where(prev >= 0, e_c[np.maximum(prev, 0)] if len(ev) else -1, -1)
            cols["edu_prev_score"] = np.where(
                prev >= 0, e_score[np.maximum(prev, 0)] if len(ev) else 0.0, np.nan)
            for name in ("prereq", "dep"):
                l_rank = latest[name][1] if name in latest else np.full(n_q, -1)
                at = edu.index(q_e, np.maximum(l_rank, 0), inclusive=True)
                upto = _take(edu_cum[:, :1], at)[:, 0]
                cols[f"graph_{name}_n_since"] = np.where(l_rank >= 0, ecum[:, 0] - upto, np.nan)
            context = {
                name: pd.Categorical.from_codes(codes_, dtype=self._competency_dtype)
                for name, codes_ in zip(_SEQUENCE_CATEGORICAL, (last_c, prev_c), strict=True)
            }

        last_t = np.where(pos >= 0, t_sorted[np.maximum(pos, 0)] if len(ev) else 0, 0)
        cols.update(self._dose_features(completions, all_ids, codes, q, q_e, pos >= 0, last_t))
        diff = self.difficulty_.to_numpy()
        for j, name in enumerate(self.difficulty_.columns):
            cols[name] = diff[q.c, j]
        profile = self._profile_features(educators, q.educator_ids)
        head = pd.DataFrame(
            {
                "educator_id": q.educator_ids,
                "as_of": pd.DatetimeIndex(q.t.astype("datetime64[ns]"), tz="UTC"),
                "competency_id": pd.Categorical.from_codes(q.c, dtype=self._competency_dtype),
                "source": pd.Categorical.from_codes(q.source, dtype=_SOURCE_DTYPE),
                "domain": pd.Categorical.from_codes(self._domain_of[q.c], dtype=self._domain_dtype),
                **context,
                "hist_bits": hist_bits.astype(np.int64),
                "hist_len": hist_len.astype(np.int64),
            }
        )
        # One float block for the numeric features: building 50 columns one by one costs more
        # than the features themselves for a single educator.
        numeric = pd.DataFrame(np.column_stack(list(cols.values())), columns=list(cols))
        return pd.concat([head, numeric, pd.DataFrame(profile)], axis=1)

    def _history_bits(self, own: _AsOf, p_sorted: np.ndarray):
        """For each sorted record: its group's last ``history_length`` outcomes up to it."""
        m = len(own.order)
        p_sorted = p_sorted.astype(np.int64)
        idx = np.arange(m)
        length = np.minimum(idx - own.start + 1, self.history_length)
        bits = np.zeros(m, np.int64)
        for j in range(self.history_length):  # j records back; at most 62 vectorized steps
            ok = j < length
            bits[ok] |= p_sorted[idx[ok] - j] << (length[ok] - 1 - j)
        return bits, length

    def _dose_features(self, completions, all_ids, codes, q, q_e, hit, last_t):
        """Completed activities targeting the competency: since the last evidence, and in all."""
        names = ("dose_n_since", "dose_hours_since", "dose_gain_since", "dose_n_total",
                 "dose_gain_total")
        if completions is None or not len(completions) or not len(self._targets):
            return {k: np.zeros(len(q.c)) for k in names}
        comp = completions[["educator_id", "activity_id", "completed_at"]].merge(
            self._targets, on="activity_id", how="inner"
        )
        id_code = pd.Series(codes, index=all_ids)
        id_code = id_code[~id_code.index.duplicated()]
        comp = comp[comp["educator_id"].isin(id_code.index)]
        n_comp = len(self.competencies)
        ct = _ns(comp["completed_at"])
        times, inverse = np.unique(np.r_[ct, q.t, last_t], return_inverse=True)
        c_r, q_r, l_r = np.split(inverse.astype(np.int64), [len(ct), len(ct) + len(q.t)])
        dose = _AsOf(id_code.loc[comp["educator_id"]].to_numpy(np.int64) * n_comp
                     + comp["c"].to_numpy(np.int64), c_r, len(times))
        cum = dose.accumulate(
            np.column_stack([np.ones(len(comp)), comp["hours"], comp["gain"]])[dose.order]
        )
        q_g = q_e * n_comp + q.c
        at_q = _take(cum, dose.index(q_g, q_r))
        at_last = _take(cum, dose.index(q_g, l_r, inclusive=True))
        since = at_q - np.where(hit[:, None], at_last, 0.0)
        return dict(zip(names, [since[:, 0], since[:, 1], since[:, 2], at_q[:, 0], at_q[:, 2]],
                        strict=True))

    def _profile_features(self, educators: pd.DataFrame | None, ids: np.ndarray) -> dict:
        """Profile columns for each query's educator; unknown educators get missing values."""
        out: dict[str, object] = {}
        if educators is None or not len(educators):
            out["prof_years_experience"] = np.full(len(ids), np.nan)
            for col in _PROFILE_CATEGORICALS:
                out[f"prof_{col}"] = pd.Categorical.from_codes(
                    np.full(len(ids), -1), dtype=self._profile_dtypes[col]
                )
            return out
        else:
            prof = educators.drop_duplicates("educator_id").set_index("educator_id")
            prof = prof.reindex(pd.Index(ids, dtype=object))
        years = prof["years_experience"] if "years_experience" in prof else None
        out["prof_years_experience"] = (
            np.full(len(ids), np.nan) if years is None
            else pd.to_numeric(years, errors="coerce").to_numpy(float)
        )
        for col in _PROFILE_CATEGORICALS:
            dtype = self._profile_dtypes[col]
            values = prof[col].to_numpy(dtype=object) if col in prof else np.full(len(ids), None)
            codes = dtype.categories.get_indexer(values) if len(dtype.categories) else None
            out[f"prof_{col}"] = pd.Categorical.from_codes(
                np.full(len(ids), -1) if codes is None else codes, dtype=dtype
            )
        return out


def _streak(bits: np.ndarray, length: np.ndarray, max_len: int) -> np.ndarray:
    """Signed run of identical latest outcomes in packed histories: +k after k proficient records
    in a row, -k after k not proficient; NaN without history (capped at ``max_len``)."""
    bits, length = np.asarray(bits, np.int64), np.asarray(length, np.int64)
    newest = (bits >> np.maximum(length - 1, 0)) & 1
    run = np.zeros(len(bits))
    alive = length > 0
    for j in range(max_len):
        idx = length - 1 - j
        same = alive & (idx >= 0) & (((bits >> np.maximum(idx, 0)) & 1) == newest)
        run += same
        alive = same
    return np.where(length > 0, np.where(newest == 1, run, -run), np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere (no history means missing, not zero)."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def _ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch of a datetime Series (tz-aware or naive-as-UTC)."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)
    return pd.DatetimeIndex(times).as_unit("ns").asi8
