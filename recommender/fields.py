"""The field contract: what every identifier, text and time the engine accepts must look like.

One set of rules, checked at every door (evidence records and files, xAPI statements, feedback
events, educator profiles, API path and query parameters) and by ``pdrec repair`` on rows stored
before the rules existed, so that SQLite and PostgreSQL hold the same values and every stored id
can be read back by the endpoints that serve it:

=================  ========================================================================
kind               rule
=================  ========================================================================
addressable id     :data:`ADDRESSABLE_ID`: a string of 1-128 characters, no control
                   character (U+0000-U+001F, U+007F-U+009F), no lone surrogate, no ``/``,
                   and not ``.`` or ``..``: it must fit one path segment of
                   ``/v1/educators/{educator_id}`` (educator, competency and activity ids,
                   goals, ``replaces``)
evidence key       :data:`EVIDENCE_KEY`: 1-200 characters (the xAPI door builds
                   ``<statement id>#<competency id>``), no control character, ``/`` allowed:
                   it is never a path segment
reference id       :data:`REFERENCE_ID`: 1-128 characters, no control character, ``/``
                   allowed (``rater_id``, a feedback's ``by``: an xAPI instructor may be an
                   openid URL)
text               :class:`Rule` with ``multiline=True``: at most ``max_length`` characters,
                   no control character except tab, line feed and carriage return (notes)
time               an ISO 8601 string in extended format (``2024-03-01``,
                   ``2024-03-01T14:30``, ``2024-03-01T14:30:00.5+02:00``, ``...Z``); a naive
                   time is UTC; it must lie in :func:`time_window`: from :data:`EARLIEST`
                   (1970-01-01T00:00:00Z) to now + :data:`MAX_FUTURE` (1 day)
=================  ========================================================================

Why these bounds: the store keeps evidence times as integer microseconds since the Unix epoch
and the feature builder works in nanoseconds (1677-2262), so times outside the window used to
break every later read of the educator; nothing a PD platform records predates 1970; and a time
far in the future (a decline dated 9999) would hide an activity forever, so only clock skew
(1 day) is allowed ahead of now. Words such as ``"now"`` or ``"today"``, numbers and anything
else that is not ISO 8601 text are refused rather than guessed at.

Strict types: an id or a text is a string. A number, a boolean, an object or an array is
refused, never turned into text (``17`` is not ``"17"``, ``{"id": 1}`` is not an id).

Every check exists twice with one definition: :func:`problem` for one value (pydantic
validators, xAPI statements) and :func:`problems` / :func:`parse_times`, vectorized over a
column (evidence batches, ``pdrec repair``). Both return reasons that name the field, the
offence and the rule, never the whole offending value (a 100,000-character id is shown
:func:`shown`, truncated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ADDRESSABLE_ID",
    "EARLIEST",
    "EVIDENCE_KEY",
    "ISO_8601",
    "MAX_FUTURE",
    "REFERENCE_ID",
    "TIME_DTYPE",
    "Rule",
    "TimeCheck",
    "json_type",
    "non_text",
    "not_a_string",
    "outside_window",
    "parse_times",
    "problem",
    "problems",
    "shown",
    "time_reason",
    "time_window",
    "window_text",
]

EARLIEST = pd.Timestamp("1970-01-01T00:00:00Z")
"""The earliest accepted time (the Unix epoch, the origin of the store's time columns)."""

MAX_FUTURE = pd.Timedelta(days=1)
"""How far after now a time may lie (clock skew between a platform and this server)."""

TIME_DTYPE = "datetime64[us, UTC]"
"""The dtype of parsed times."""

ISO_8601 = (r"\d{4}-\d{2}-\d{2}"
            r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?")
"""The accepted time syntax: ISO 8601 extended format, date or date and time, optional offset."""

_SHOWN = 200  # characters of an offending value shown back


@dataclass(frozen=True)
class Rule:
    """What one kind of string field may hold.

    Attributes
    ----------
    name : str
        What the rule is called in reasons (``"an id"``, ``"a note"``).
    max_length : int
        Most characters allowed (after stripping surrounding whitespace).
    min_length : int, default=1
        Fewest characters (0 for optional free text).
    slash : bool, default=True
        Whether ``/`` is allowed (not in ids that are path segments).
    multiline : bool, default=False
        Whether tab, line feed and carriage return are allowed (free text).
    """

    name: str
    max_length: int
    min_length: int = 1
    slash: bool = True
    multiline: bool = False

    @property
    def forbidden(self) -> str:
        """A regular-expression character class of the forbidden characters."""
        return self._forbidden(surrogates=True)

    def _forbidden(self, *, surrogates: bool) -> str:
        # Arrow-backed text cannot hold a lone surrogate, and its regex engine (RE2) cannot
        # name one: leaving the range out keeps the column check in Arrow instead of Python
        controls = r"\x00-\x08\x0b\x0c\x0e-\x1f" if self.multiline else r"\x00-\x1f"
        return ("[" + controls + r"\x7f-\x9f" + (r"\ud800-\udfff" if surrogates else "")
                + ("" if self.slash else "/") + "]")

    @property
    def pattern(self) -> str:
        """The rule's characters as an anchored pattern (OpenAPI, pydantic ``pattern``): no
        forbidden character, no whitespace at either end (the doors strip it, so an id sent as
        ``" "`` is empty). Lone surrogates are left out: pydantic refuses them first. Without
        ``/`` (a path segment) neither ``.`` nor ``..`` matches, as :func:`problem` says, by
        alternation (no look-ahead, which not every regex engine reading the schema has)."""
        controls = r"\x00-\x08\x0b\x0c\x0e-\x1f" if self.multiline else r"\x00-\x1f"
        bad = controls + r"\x7f-\x9f" + ("" if self.slash else "/")
        edge = r"[^\s" + bad + "]"
        body = f"{edge}(?:[^{bad}]*{edge})?"
        if not self.slash:  # starts with a character other than '.', or '.' and more than '.'
            other = r"[^\s." + bad + "]"
            body = rf"{other}(?:[^{bad}]*{edge})?|\.(?:{other}|[^{bad}]+{edge})"
        return f"^(?:{body})$" if self.min_length else f"^(?:{body})?$"

    def describe(self) -> str:
        """The rule in words, for reasons: ``ids are 1-128 characters without ...``."""
        allowed = ("no control characters except tab and line breaks" if self.multiline
                   else "no control characters")
        if not self.slash:
            allowed += ", no '/', not '.' or '..'"
        return f"{self.name} is {self.min_length}-{self.max_length} characters, {allowed}"


ADDRESSABLE_ID = Rule("an id", 128, slash=False)
"""Ids that are path segments of the API: educator, competency and activity ids."""

EVIDENCE_KEY = Rule("an evidence_id", 200)
"""The evidence idempotency key (the store's column is 200 characters wide)."""

REFERENCE_ID = Rule("a reference id", 128)
"""Ids that are only stored and shown: ``rater_id``, a feedback event's ``by``."""


# ---------------------------------------------------------------------------------------------
# one value


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for reasons: object, array, boolean, number, string."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple | set):
        return "array"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def shown(value: Any, limit: int = _SHOWN) -> str:
    """``value`` as text for a rejection, cut to ``limit`` characters (``...`` marks the cut)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates as \udxxx
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _char_reason(field: str, text: str, rule: Rule) -> str | None:
    """Why ``text`` (a string) breaks ``rule``'s length or characters, or None."""
    if len(text) > rule.max_length:
        return (f"{field} is {len(text)} characters long; {rule.describe()}")
    if len(text) < rule.min_length:
        return f"{field} is empty; {rule.describe()}"
    bad = re.search(rule.forbidden, text)
    if bad is not None:
        char = bad.group()
        what = ("'/'" if char == "/" else
                f"U+{ord(char):04X} (a lone surrogate)" if 0xD800 <= ord(char) <= 0xDFFF else
                f"U+{ord(char):04X} (a control character)")
        return f"{field} contains {what} at position {bad.start() + 1}; {rule.describe()}"
    if not rule.slash and text in (".", ".."):
        return f"{field} {text!r} cannot be a path segment; {rule.describe()}"
    return None


def problem(value: Any, field: str, rule: Rule) -> str | None:
    """Why one value breaks ``rule``, or None when it holds.

    The value must be a string; surrounding whitespace does not count (callers strip it).

    >>> problem("T-0017", "educator_id", ADDRESSABLE_ID) is None
    True
    >>> problem(17, "educator_id", ADDRESSABLE_ID)
    'educator_id must be a string; got a number'
    >>> problem("a/b", "educator_id", ADDRESSABLE_ID)[:38]
    "educator_id contains '/' at position 2"
    """
    if not isinstance(value, str):
        return not_a_string(field, value)
    return _char_reason(field, value.strip(), rule)


def not_a_string(field: str, value: Any) -> str:
    """The reason for a text field holding another JSON type.

    >>> not_a_string("educator_id", {"id": 1})
    'educator_id must be a string; got an object'
    """
    kind = json_type(value)
    return f"{field} must be a string; got {'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


# ---------------------------------------------------------------------------------------------
# columns


def non_text(col: pd.Series) -> np.ndarray:
    """Mask of the values of ``col`` that are present but not strings (numbers, booleans,
    objects, arrays); vectorized, with a per-value look only for columns of mixed types."""
    if isinstance(col.dtype, pd.StringDtype):
        return np.zeros(len(col), dtype=bool)
    if col.dtype == object:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind in ("string", "empty"):
            return np.zeros(len(col), dtype=bool)
        is_str = col.map(lambda v: isinstance(v, str), na_action="ignore")
        return (col.notna() & ~is_str.fillna(True).astype(bool)).to_numpy()
    return col.notna().to_numpy()


def problems(values: pd.Series, field: str, rule: Rule) -> pd.Series:
    """Why each value of a text column breaks ``rule``: a reason, or NaN where it holds.

    ``values`` holds stripped strings or missing values (missing values pass: whether a field is
    required is the caller's business). Vectorized: lengths and one regular expression over the
    column; the per-value reason is only written for the values that fail.
    """
    arrow = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    pattern = rule._forbidden(surrogates=not arrow) + ("" if rule.slash else r"|^\.\.?$")
    n = values.str.len().to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = (n > rule.max_length) | (n < rule.min_length)
    bad |= values.str.contains(pattern, regex=True).to_numpy(dtype=bool, na_value=False)
    out = pd.Series(np.nan, index=values.index, dtype=object)
    if bad.any():
        out[bad] = values[bad].map(lambda s: _char_reason(field, s, rule))
    return out


@dataclass(frozen=True)
class TimeCheck:
    """Parsed times and what is wrong with the others.

    Attributes
    ----------
    times : Series of datetime64[us, UTC]
        The parsed times; NaT where missing, not ISO 8601 or outside the window.
    not_iso : ndarray of bool
        Present but not an ISO 8601 time (syntax, or an impossible date such as 2024-02-30).
    outside : ndarray of bool
        A valid ISO 8601 time outside :func:`time_window`.
    """

    times: pd.Series
    not_iso: np.ndarray
    outside: np.ndarray


def time_window(now: pd.Timestamp | None = None, *, earliest: pd.Timestamp = EARLIEST,
                max_future: pd.Timedelta = MAX_FUTURE) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(earliest, now + max_future)``, both UTC; ``now`` defaults to the current time."""
    now = pd.Timestamp.now(tz="UTC") if now is None else _utc(pd.Timestamp(now))
    return _utc(pd.Timestamp(earliest)), now + pd.Timedelta(max_future)


def window_text(window: tuple[pd.Timestamp, pd.Timestamp],
                max_future: pd.Timedelta = MAX_FUTURE) -> str:
    """The window as shown in reasons.

    >>> window_text(time_window("2025-01-01"))
    '[1970-01-01T00:00:00Z, 2025-01-02T00:00:00Z] (from 1970-01-01 to 1 day after now)'
    """
    lo, hi = window
    days = pd.Timedelta(max_future) / pd.Timedelta(days=1)
    span = (f"{int(days)} day" + ("" if days == 1 else "s") if days == int(days)
            else str(pd.Timedelta(max_future)))
    return (f"[{lo.strftime('%Y-%m-%dT%H:%M:%SZ')}, {hi.strftime('%Y-%m-%dT%H:%M:%SZ')}] "
            f"(from {lo.strftime('%Y-%m-%d')} to {span} after now)")


def outside_window(times: pd.Series, window: tuple[pd.Timestamp, pd.Timestamp]) -> np.ndarray:
    """Mask of the times (a UTC datetime column) outside ``window``; NaT is not outside."""
    naive = times.to_numpy(dtype="datetime64[us]")
    lo, hi = (np.datetime64(t.tz_convert(None).as_unit("us")) for t in window)
    return (naive < lo) | (naive > hi)


def time_reason(field: str, value: Any, check: TimeCheck, i: int,
                window: tuple[pd.Timestamp, pd.Timestamp],
                max_future: pd.Timedelta = MAX_FUTURE) -> str | None:
    """Why value ``i`` of a :func:`parse_times` check fails, in the words every door uses; None
    when it passed. ``value`` is the value as sent (a non-string is named by its JSON type)."""
    if value is not None and not isinstance(value, str):
        return f"{field} must be an ISO 8601 string; got {json_type(value)}"
    if check.not_iso[i]:
        return (f"{field} {shown(value, 80)!r} is not an ISO 8601 timestamp (e.g. "
                "2024-03-01T14:30:00Z; without an offset it is UTC)")
    if check.outside[i]:
        return (f"{field} {shown(value, 80)!r} is outside the accepted window "
                f"{window_text(window, max_future)}")
    return None


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_times(values: pd.Series, window: tuple[pd.Timestamp, pd.Timestamp]) -> TimeCheck:
    """Parse a column of times and check them against ``window`` (see :func:`time_window`).

    ``values`` holds ISO 8601 strings (stripped) or missing values, or is already a datetime
    column (naive: UTC). Strings are matched against :data:`ISO_8601` first (so ``"now"`` and
    ``"today"`` are refused), and only those whose year can fall in the window are parsed, so a
    year such as 0001 or 9999 never reaches pandas' parser (whose range it may exceed).
    """
    lo, hi = window
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        times = pd.to_datetime(values, utc=True).astype(TIME_DTYPE)
        not_iso = np.zeros(len(values), dtype=bool)
        outside = outside_window(times, window)
    else:
        shaped = values.str.fullmatch(ISO_8601).to_numpy(dtype=bool, na_value=False)
        year = values.str.slice(0, 4)  # four digits where shaped: compared as text, in Arrow
        plausible = shaped & ((year >= f"{lo.year - 1:04d}") & (year <= f"{hi.year + 1:04d}")
                              ).to_numpy(dtype=bool, na_value=False)
        if plausible.all():
            times = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
            times = times.astype(TIME_DTYPE)
        else:
            times = pd.Series(pd.NaT, index=values.index, dtype=TIME_DTYPE)
            if plausible.any():
                parsed = pd.to_datetime(values[plausible], errors="coerce", utc=True,
                                        format="ISO8601")
                times[plausible] = parsed.astype(TIME_DTYPE)
        not_iso = values.notna().to_numpy() & ~shaped
        not_iso |= plausible & times.isna().to_numpy()  # an impossible date such as 2024-02-30
        outside = (shaped & ~plausible) | outside_window(times, window)
    if outside.any():
        times = times.where(~outside)
    return TimeCheck(times=times, not_iso=not_iso, outside=outside)
