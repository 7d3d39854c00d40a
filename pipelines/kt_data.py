"""Knowledge-tracing response files -> evidence records of the engine's contract.

Knowledge-tracing (KT) data is the engine's own structure: a learner answers problems tagged with
skills, in order. This module reads the two forms such data usually comes in and maps it onto
evidence (:func:`recommender.evidence.validate_evidence`):

==============  ==========================================================================
KT field        evidence field
==============  ==========================================================================
learner         ``educator_id`` (prefixed with the file's name: ``"assist2009_test:17"``)
skill           ``competency_id`` (the skill id as text)
correct         ``score`` on the 0-1 scale (``scale_min=0``, ``scale_max=1``); proficient at 0.5,
                so a correct answer is a proficient record. Partial credit in [0, 1] is kept.
order           ``observed_at``: a synthetic UTC time, :data:`SYNTHETIC_START` plus the answer's
                position in the learner's sequence times :data:`SYNTHETIC_STEP` (one minute), so
                every answer of a learner has its own time, in order
timestamp       ``observed_at`` as given (UTC); answers of one learner that share a time are
                spread one microsecond apart in file order, since the feature builder only
                lets strictly earlier evidence inform a prediction
==============  ==========================================================================

``source`` is ``activity_assessment`` and ``evidence_id`` is ``"<learner>#<position>"``.

Forms read:

- **sequences** (:func:`read_sequences`): three lines per learner, as in the DKT/DKVMN files: the
  number of answers; the skill ids in order, comma-separated; the responses (1 correct, 0 not).
- **CSV** (:func:`read_responses_csv`): one answer per row with a header; the learner, skill and
  correct columns are named by the caller, plus an order column or a timestamp column.

Both return a *responses* frame (:data:`RESPONSE_COLUMNS`), which :func:`to_evidence` maps onto
evidence. Malformed input raises :class:`~recommender.errors.InvalidEvidenceError` naming the file,
the line or row, the field, the value and what was expected. Parsing is vectorized over all answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.errors import InvalidEvidenceError
from recommender.evidence import NO_FUTURE_CHECK, validate_evidence

__all__ = [
    "RESPONSE_COLUMNS",
    "SYNTHETIC_START",
    "SYNTHETIC_STEP",
    "KTSplit",
    "read_sequences",
    "read_responses_csv",
    "to_evidence",
    "load_kt_split",
]

RESPONSE_COLUMNS = ("learner", "skill", "correct", "position", "time")
"""Columns of a responses frame: learner and skill ids (str), correct (float in [0, 1]), the
0-based position of the answer in its learner's sequence (int) and its time (UTC, or NaT when the
source only gives an order)."""

SYNTHETIC_START = pd.Timestamp("2000-01-01T00:00:00Z")
"""Time of every learner's first answer when the data gives only an order."""

SYNTHETIC_STEP = pd.Timedelta(minutes=1)
"""Time between consecutive answers of a learner when the data gives only an order."""

SOURCE = "activity_assessment"
"""Evidence source of a KT answer: an assessed learning activity."""


def _fail(where: str, field: str, value, expected: str) -> InvalidEvidenceError:
    return InvalidEvidenceError(f"{where}: {field} {str(value)!r} is invalid; expected {expected}")


# ---------------------------------------------------------------------------------------------
# the three-lines-per-learner form


def read_sequences(path: str | os.PathLike[str], *, learner_prefix: str | None = None) -> pd.DataFrame:
    """Read a three-lines-per-learner sequence file into a responses frame.

    Parameters
    ----------
    path : path
        The file: for each learner, a line with the number of answers ``n``, a line of ``n``
        comma-separated skill ids and a line of ``n`` comma-separated responses (0 or 1). A
        trailing comma on a line is allowed, as are blank lines at the end.
    learner_prefix : str, optional
        Learner ids are ``f"{learner_prefix}:{k}"`` for the ``k``-th learner (0-based) of the file;
        by default the prefix is the file name without its extension.

    Returns
    -------
    DataFrame
        :data:`RESPONSE_COLUMNS`, one row per answer, learners in file order; ``time`` is NaT.

    Raises
    ------
    InvalidEvidenceError
        If the line count is not a multiple of three, a count is not a non-negative integer, a
        line holds a different number of values than its count says, a skill id is empty or a
        response is not 0 or 1. The message names the file, line number, field and value.
    """
    path = Path(path)
    prefix = path.stem if learner_prefix is None else learner_prefix
    lines = _sequence_lines(path)
    n_learners = len(lines) // 3
    counts = _answer_counts(path, lines)
    skills = pd.Series(_sequence_tokens(path, lines, counts, 1, "skill ids"), dtype="str").str.strip()
    responses = pd.Series(_sequence_tokens(path, lines, counts, 2, "responses"),
                          dtype="str").str.strip()
    learner_of = np.repeat(np.arange(n_learners), counts)
    position = np.arange(len(learner_of)) - np.repeat(np.cumsum(counts) - counts, counts)

    def where(i: int, line_offset: int) -> str:
        k = int(learner_of[i])
        return f"{path} line {3 * k + line_offset} (learner {k}, answer {int(position[i]) + 1})"

    empty = np.flatnonzero((skills == "").to_numpy())
    if len(empty):
        raise _fail(where(int(empty[0]), 2), "skill id", "", "a non-empty skill id")
    correct = responses.map({"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}).to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(correct))
    if len(bad):
        raise _fail(where(int(bad[0]), 3), "response", responses.iloc[int(bad[0])],
                    "1 (correct) or 0 (not correct)")
    learners = pd.Series(np.arange(n_learners)).astype("str")
    return pd.DataFrame(
        {
            "learner": (prefix + ":" + learners).to_numpy(dtype=object)[learner_of],
            "skill": skills.to_numpy(dtype=object),
            "correct": correct,
            "position": position.astype(np.int64),
            "time": pd.Series(pd.NaT, index=range(len(correct)), dtype="datetime64[ns, UTC]"),
        }
    )


def _sequence_lines(path: Path) -> list[str]:
    """The lines of a sequence file without its trailing blank lines; three per learner."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 3:
        raise InvalidEvidenceError(
            f"{path}: {len(lines)} non-trailing lines is not a multiple of 3; expected three lines "
            "per learner (answer count, skill ids, responses)"
        )
    return lines


def _answer_counts(path: Path, lines: list[str]) -> np.ndarray:
    """Each learner's answer count (the first of its three lines), checked non-negative integers."""
    count_text = pd.Series([s.strip() for s in lines[0::3]], dtype=object)
    counts = pd.to_numeric(count_text, errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(counts) & (counts >= 0) & (counts == np.round(counts)))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise _fail(f"{path} line {3 * k + 1} (learner {k})", "answer count", count_text[k],
                    "a non-negative integer")
    return counts.astype(np.int64)


def _sequence_tokens(path: Path, lines: list[str], counts: np.ndarray, start: int,
                     field: str) -> np.ndarray:
    """The comma-separated values of every learner's line ``start`` (1 skills, 2 responses), all
    learners' joined in order, after checking each line holds as many as its answer count."""
    rows = [s.strip().rstrip(",") for s in lines[start::3]]
    lengths = np.array([0 if not r else r.count(",") + 1 for r in rows], dtype=np.int64)
    wrong = np.flatnonzero(lengths != counts)
    if len(wrong):
        k = int(wrong[0])
        raise _fail(f"{path} line {3 * k + start + 1} (learner {k})", f"number of {field}",
                    lengths[k], f"{counts[k]}, the answer count on line {3 * k + 1}")
    joined = ",".join(r for r in rows if r)
    return np.array(joined.split(","), dtype=object) if joined else np.array([], dtype=object)


# ---------------------------------------------------------------------------------------------
# the column-mapped CSV form


def read_responses_csv(
    path: str | os.PathLike[str],
    *,
    learner_col: str = "learner",
    skill_col: str = "skill",
    correct_col: str = "correct",
    order_col: str | None = "order",
    time_col: str | None = None,
    learner_prefix: str | None = None,
    sep: str = ",",
) -> pd.DataFrame:
    """Read a one-answer-per-row CSV with a header into a responses frame.

    Parameters
    ----------
    path : path
    learner_col, skill_col, correct_col : str
        Header names of the learner id, skill id and correctness (a number in [0, 1]; 1 is
        correct) columns.
    order_col : str or None, default="order"
        A numeric column ordering each learner's answers (ties keep file order). Used when
        ``time_col`` is None.
    time_col : str or None, default=None
        A timestamp column (ISO 8601 text or epoch seconds); naive times are UTC. Takes
        precedence over ``order_col``.
    learner_prefix : str, optional
        Prefix of learner ids (``f"{prefix}:{learner}"``); by default none is added.
    sep : str, default=","
        Field separator.

    Returns
    -------
    DataFrame
        :data:`RESPONSE_COLUMNS`, sorted by learner (first appearance) then order or time.

    Raises
    ------
    InvalidEvidenceError
        If a named column is absent (naming the expected and the present columns), or a value is
        missing or malformed (naming the 1-based data row, the column and the value).
    """
    path = Path(path)
    if time_col is None and order_col is None:
        raise ValueError("read_responses_csv needs order_col or time_col to order the answers")
    frame = _read_csv_text(path, sep)
    wanted = {"learner": learner_col, "skill": skill_col, "correct": correct_col,
              "order": time_col if time_col is not None else order_col}
    _require_columns(path, frame, wanted)
    check = _RowCheck(path, wanted)
    learner = frame[learner_col].str.strip()
    skill = frame[skill_col].str.strip()
    check(learner.isna().to_numpy(), "learner", learner, "a non-empty learner id")
    check(skill.isna().to_numpy(), "skill", skill, "a non-empty skill id")
    correct = pd.to_numeric(frame[correct_col].str.strip(), errors="coerce").to_numpy(dtype=float)
    check(~((correct >= 0) & (correct <= 1)), "correct", frame[correct_col],
          "a number in [0, 1] (1 correct, 0 not)")
    raw = frame[wanted["order"]].str.strip()
    key = _time_key(raw, check) if time_col is not None else _order_key(raw, check)
    codes, _ = pd.factorize(learner)
    sort = np.lexsort((np.arange(len(frame)), key, codes))
    codes = codes[sort]
    position = _positions_in_learner(codes)
    if time_col is not None:
        time = _strictly_increasing_times(key[sort], codes, position)
    else:
        time = pd.Series(pd.NaT, index=range(len(frame)), dtype="datetime64[ns, UTC]")
    ids = learner.to_numpy(dtype=object)[sort]
    if learner_prefix:
        ids = (learner_prefix + ":" + pd.Series(ids, dtype="str")).to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "learner": ids,
            "skill": skill.to_numpy(dtype=object)[sort],
            "correct": correct[sort],
            "position": position.astype(np.int64),
        }
    )
    out["time"] = time.astype("datetime64[ns, UTC]").set_axis(out.index)
    return out


def _read_csv_text(path: Path, sep: str) -> pd.DataFrame:
    """The CSV as text columns (empty fields NaN), or an error naming the file."""
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                           encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidEvidenceError(f"cannot read responses CSV {path}: {exc}") from exc


def _require_columns(path: Path, frame: pd.DataFrame, wanted: dict[str, str]) -> None:
    """Fail naming the absent columns of ``wanted`` (role -> header name) and the present ones."""
    missing = [f"{col!r} ({role} column)" for role, col in wanted.items() if col not in frame]
    if missing:
        raise InvalidEvidenceError(
            f"{path}: missing column(s) {', '.join(missing)}; the header has "
            f"{list(frame.columns)}. Name the columns with --learner-col, --skill-col, "
            "--correct-col and --order-col or --time-col"
        )


@dataclass(frozen=True)
class _RowCheck:
    """Raises for the first row where ``mask`` holds, naming the data row, column and value."""

    path: Path
    wanted: dict[str, str]

    def __call__(self, mask: np.ndarray, role: str, values: pd.Series, expected: str) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            i = int(bad[0])
            value = values.iloc[i]
            raise _fail(f"{self.path} data row {i + 1}", f"{self.wanted[role]!r} value",
                        "" if pd.isna(value) else value, expected)


def _time_key(raw: pd.Series, check: _RowCheck) -> np.ndarray:
    """Timestamps (ISO 8601 text, or epoch seconds when every value is a number) as UTC ns."""
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        times = pd.to_datetime(numeric, unit="s", utc=True)
    else:
        times = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    check(times.isna().to_numpy(), "order", raw,
          "an ISO 8601 timestamp (e.g. 2024-03-01T14:30:00Z) or epoch seconds")
    return times.astype("datetime64[ns, UTC]").astype("int64").to_numpy()


def _order_key(raw: pd.Series, check: _RowCheck) -> np.ndarray:
    """The order column as finite floats."""
    order = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    check(~np.isfinite(order), "order", raw, "a number ordering the learner's answers")
    return order


def _positions_in_learner(codes: np.ndarray) -> np.ndarray:
    """The 0-based position of each answer in its learner's run, ``codes`` sorted by learner."""
    starts = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(codes)), 0))
    return np.arange(len(codes)) - first


def _strictly_increasing_times(key: np.ndarray, codes: np.ndarray,
                               position: np.ndarray) -> pd.Series:
    """Sorted UTC ns times made strictly increasing within a learner: t_i = max(t_i, t_{i-1} +
    1 us), by a running max."""
    step = 1_000  # ns
    shifted = key - position * step
    group_max = pd.Series(shifted).groupby(codes).cummax().to_numpy()
    time = pd.Series(pd.to_datetime(group_max + position * step, utc=True))
    return time.dt.as_unit("ns")


# ---------------------------------------------------------------------------------------------
# responses -> evidence


def to_evidence(responses: pd.DataFrame, *, competencies=None) -> pd.DataFrame:
    """Map a responses frame onto validated evidence (see the module docstring for the mapping).

    Parameters
    ----------
    responses : DataFrame
        :data:`RESPONSE_COLUMNS`, as :func:`read_sequences` or :func:`read_responses_csv` return.
    competencies : iterable of str, optional
        The known skill ids; by default the skills of ``responses``. A response on another skill
        is an error.

    Returns
    -------
    DataFrame
        Validated evidence (:data:`recommender.evidence.NORMALIZED_COLUMNS`), in
        ``(observed_at, evidence_id)`` order.
    """
    missing = [c for c in RESPONSE_COLUMNS if c not in responses]
    if missing:
        raise InvalidEvidenceError(
            f"responses frame lacks columns {missing}; expected {list(RESPONSE_COLUMNS)}"
        )
    synthetic = responses["time"].isna().to_numpy()
    observed = pd.Series(responses["time"].to_numpy(), dtype="datetime64[ns, UTC]")
    observed[synthetic] = SYNTHETIC_START + SYNTHETIC_STEP * responses["position"].to_numpy()[
        synthetic]
    learner = pd.Series(responses["learner"].to_numpy(), dtype="str")
    frame = pd.DataFrame(
        {
            "evidence_id": (learner + "#" + responses["position"].astype("str").to_numpy()).to_numpy(),
            "educator_id": learner.to_numpy(),
            "competency_id": responses["skill"].to_numpy(),
            "source": SOURCE,
            "score": responses["correct"].to_numpy(dtype=float),
            "scale_min": 0.0,
            "scale_max": 1.0,
            "observed_at": observed.to_numpy(),
        }
    )
    known = pd.unique(frame["competency_id"]) if competencies is None else list(competencies)
    result = validate_evidence(frame, competencies=known, proficient_at=0.5,
                               now=NO_FUTURE_CHECK)
    if len(result.rejections):
        first = result.rejections.iloc[0]
        raise InvalidEvidenceError(
            f"{len(result.rejections)} response(s) do not map onto evidence; first: evidence "
            f"{first['evidence_id']!r}: {first['reason']}"
        )
    return result.valid


# ---------------------------------------------------------------------------------------------
# a dataset folder: the test file, the training file and its train/valid folds


@dataclass(frozen=True)
class KTSplit:
    """The responses of one benchmark: the fixed test set, the training set and its folds."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    folds: tuple[tuple[pd.DataFrame, pd.DataFrame], ...]  # (train_k, valid_k)
    files: dict[str, str]  # role -> file name (or a description of a derived split)


def _limit(responses: pd.DataFrame, max_learners: int | None) -> pd.DataFrame:
    if max_learners is None:
        return responses
    keep = pd.unique(responses["learner"])[:max_learners]
    return responses[responses["learner"].isin(keep)].reset_index(drop=True)


def _folds(files: dict[str, Path], train: pd.DataFrame, read, *, n_folds: int,
           rng: np.random.Generator, path: Path) -> tuple[list, bool]:
    """The train/valid folds of :func:`load_kt_split`: none for an ``n_folds`` of 1, else the
    first ``n_folds`` fold files, else random folds of the training learners. Returns the folds
    and whether they are random."""
    if n_folds < 2:  # no folds: the whole training file is the only fit
        return [], False
    numbers = sorted(int(r[5:]) for r in files if r.startswith("train") and r[5:].isdigit())
    numbers = [k for k in numbers if f"valid{k}" in files][:n_folds]
    if numbers:
        return [(read(files[f"train{k}"]), read(files[f"valid{k}"])) for k in numbers], False
    learners = pd.unique(train["learner"])
    if len(learners) < n_folds:
        raise ValueError(f"{n_folds} folds need at least {n_folds} training learners; "
                         f"{path} has {len(learners)}")
    fold_of = rng.permutation(len(learners)) % n_folds
    folds = []
    for k in range(n_folds):
        valid_ids = set(learners[fold_of == k])
        mask = train["learner"].isin(valid_ids).to_numpy()
        folds.append((train[~mask].reset_index(drop=True), train[mask].reset_index(drop=True)))
    return folds, True


def load_kt_split(
    data: str | os.PathLike[str],
    *,
    fmt: str = "sequences",
    max_learners: int | None = None,
    n_folds: int = 5,
    test_fraction: float = 0.3,
    seed: int = 0,
    **csv_options,
) -> KTSplit:
    """Read a KT dataset and its split.

    ``data`` is a folder or a single file. In a folder, the files whose names end in
    ``_train``, ``_test``, ``_train<k>`` and ``_valid<k>`` (before the extension, which is
    ``.csv`` or ``.txt``) are the fixed training set, test set and train/valid folds (the layout of
    the DKT/DKVMN files). Without a test file, or for a single file, learners are split at random
    (``seed``): ``test_fraction`` of them are the test set. Without fold files, the training
    learners are cut into ``n_folds`` folds, each fold's valid part being one of them. An
    ``n_folds`` of 1 means no folds (the whole training file is the only fit): no fold file is
    read.

    ``max_learners`` keeps only the first learners of each file (for a quick slice of the data).
    ``fmt`` is ``"sequences"`` or ``"csv"``; ``csv_options`` go to :func:`read_responses_csv`.
    """
    if fmt not in ("sequences", "csv"):
        raise ValueError(f"format must be 'sequences' or 'csv'; got {fmt!r}")
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"no such dataset file or folder: {path}")

    def read(file: Path) -> pd.DataFrame:
        out = read_sequences(file) if fmt == "sequences" else read_responses_csv(
            file, learner_prefix=file.stem, **csv_options)
        return _limit(out, max_learners)

    files: dict[str, Path] = {}
    if path.is_dir():
        for file in sorted(path.iterdir()):
            if file.suffix.lower() not in (".csv", ".txt") or not file.is_file():
                continue
            stem = file.stem.lower()
            for role in ("train", "test", "valid"):
                tail = stem.rsplit("_", 1)[-1] if "_" in stem else stem
                if tail == role:
                    files[role] = file
                elif tail.startswith(role) and tail[len(role):].isdigit():
                    files[f"{role}{int(tail[len(role):])}"] = file
        if "train" not in files:
            raise FileNotFoundError(
                f"{path}: no training file; expected a file named like NAME_train.csv (and "
                f"NAME_test.csv, NAME_train1.csv / NAME_valid1.csv ...); found "
                f"{sorted(f.name for f in path.iterdir())}"
            )
        name = files["train"].stem.rsplit("_", 1)[0] if "_" in files["train"].stem else path.name
    else:
        files["train"] = path
        name = path.stem
    described: dict[str, str] = {role: f.name for role, f in files.items()}
    full = read(files["train"])
    rng = np.random.default_rng(seed)
    if "test" in files:
        train, test = full, read(files["test"])
    else:
        learners = pd.unique(full["learner"])
        is_test = np.zeros(len(learners), bool)
        is_test[rng.permutation(len(learners))[: max(1, round(test_fraction * len(learners)))]] = True
        test_ids = set(learners[is_test])
        mask = full["learner"].isin(test_ids).to_numpy()
        train, test = full[~mask].reset_index(drop=True), full[mask].reset_index(drop=True)
        described["test"] = f"{test_fraction:.0%} of the learners of {files['train'].name} (seed {seed})"
    folds, random_folds = _folds(files, train, read, n_folds=n_folds, rng=rng, path=path)
    if random_folds:
        described["folds"] = f"{n_folds} random folds of the training learners (seed {seed})"
    return KTSplit(name=name, train=train, test=test, folds=tuple(folds), files=described)
