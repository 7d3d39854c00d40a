"""Read a OneRoster 1.1/1.2 CSV bulk file set (a folder or a zip) into one frame per file.

A set is the files with the standard names (``manifest.csv``, ``orgs.csv``, ``users.csv``,
``enrollments.csv``, ``classes.csv``, ``courses.csv``, ``academicSessions.csv``, ``roles.csv``,
...), at the top of the folder or zip or in one sub-folder of it. ``manifest.csv`` (two columns,
``propertyName,value``) says for each file (``file.<name>``) whether it is ``bulk`` (the whole
set of that kind), ``delta`` (changes since the last import) or ``absent`` (not sent: a file
present anyway is ignored, with a note). Without a manifest every file present is read as
``bulk``, with a note.

Every cell is read as text exactly as sent (no number or missing-value guessing: ``"NA"`` or
``"01"`` stay what they are), stripped of surrounding spaces; a UTF-8 byte-order mark and CRLF
line ends are accepted; extension columns (``metadata.*``) are kept and ignored by the mapping.
Each frame gets a ``_line`` column: the line of the file each record starts on (the header is
line 1), counting the line breaks inside quoted fields, so the report can point at the line.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

__all__ = ["FILES", "MODES", "LINE", "RosterFiles", "read_roster"]

FILES = ("manifest", "academicSessions", "orgs", "courses", "classes", "users", "roles",
         "enrollments", "demographics", "lineItems", "results", "categories", "resources",
         "classResources", "courseResources", "userProfiles")
"""The OneRoster 1.1/1.2 CSV file names (without ``.csv``) a set may hold."""

MODES = ("bulk", "delta", "absent")
"""What ``manifest.csv`` may say about each file."""

LINE = "_line"
"""The column holding each record's line number in its file."""


@dataclass
class RosterFiles:
    """The files of one set, as read.

    Attributes
    ----------
    frames : dict name -> DataFrame
        Each file read (all text, stripped), with :data:`LINE`; files marked ``absent`` are not
        here.
    modes : dict name -> str
        ``bulk`` or ``delta`` for each file in ``frames``.
    version : str
        ``oneroster.version`` from the manifest (``""`` without one).
    notes : list of (file, note)
        What was read differently from how it was sent: no manifest, a file present although
        the manifest says ``absent``, a file the manifest lists but the set lacks, an unknown
        mode, an unreadable file.
    """

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    version: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)

    def mode(self, name: str) -> str:
        """``bulk``, ``delta`` or ``absent`` (a file not read) for one file name."""
        return self.modes.get(name, "absent")


def _members(source: Path | bytes | Mapping[str, str | bytes]) -> dict[str, bytes]:
    """The raw bytes of each ``*.csv`` of a folder, a zip (path or bytes) or a mapping of file
    names to their text (as an API body carries them), by name."""
    if isinstance(source, Mapping):
        return {PurePosixPath(str(name)).name: (text.encode() if isinstance(text, str) else text)
                for name, text in sorted(source.items())
                if str(name).lower().endswith(".csv")}
    if isinstance(source, bytes | bytearray):
        return _zip_members(zipfile.ZipFile(io.BytesIO(source)))
    path = Path(source)
    if path.is_dir():
        found = sorted(path.glob("*.csv")) or sorted(path.glob("*/*.csv"))
        return {p.name: p.read_bytes() for p in found}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return _zip_members(zf)
    raise ValueError(f"roster {path.name!r} must be a folder or a zip of OneRoster CSV files; "
                     + ("it does not exist" if not path.exists() else "it is neither"))


def _zip_members(zf: zipfile.ZipFile) -> dict[str, bytes]:
    names = [n for n in zf.namelist() if n.lower().endswith(".csv") and "__MACOSX" not in n]
    depth = min((len(PurePosixPath(n).parts) for n in names), default=1)
    return {PurePosixPath(n).name: zf.read(n) for n in sorted(names)
            if len(PurePosixPath(n).parts) == depth}


def _csv(raw: bytes) -> pd.DataFrame:
    """One file: every cell text (stripped), the header's names stripped, plus :data:`LINE`."""
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False,
                        encoding="utf-8-sig", skipinitialspace=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, ~pd.Index(frame.columns).duplicated()]
    frame = frame.apply(lambda col: col.str.strip()) if len(frame) else frame
    # lines: header on line 1; a record's fields may hold line breaks only when some record
    # does, which the count of line ends in the file tells without looking at the records
    breaks = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    extra = np.zeros(len(frame), dtype=np.int64)
    if len(frame) and breaks > len(frame) + 1:
        inner = sum(frame[c].str.count("\n").to_numpy(dtype=np.int64) for c in frame.columns)
        extra = np.concatenate(([0], np.cumsum(inner)[:-1]))
    frame[LINE] = np.arange(2, len(frame) + 2, dtype=np.int64) + extra
    return frame


def _manifest(raw: bytes, out: RosterFiles) -> dict[str, str]:
    """``file.<name>`` -> mode from ``manifest.csv``; the version into ``out``."""
    frame = _csv(raw)
    if not {"propertyName", "value"} <= set(frame.columns):
        out.notes.append(("manifest.csv", "has no propertyName,value header; every file present "
                          "is read as bulk"))
        return {}
    props = dict(zip(frame["propertyName"], frame["value"], strict=True))
    out.version = props.get("oneroster.version", "")
    return {k[len("file."):]: v.strip().lower() for k, v in props.items()
            if k.startswith("file.")}


def read_roster(source: Path | str | bytes | Mapping[str, str | bytes]) -> RosterFiles:
    """Read a OneRoster CSV set from a folder, a zip file, the bytes of a zip, or a mapping of
    file names (``users.csv``, ...) to their contents.

    Raises ``ValueError`` only when ``source`` is neither a folder nor a zip (or a broken zip);
    a file that cannot be parsed as CSV is a note and is left out, never an exception.
    """
    try:
        members = _members(Path(source) if isinstance(source, str) else source)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"roster is not a readable zip: {exc}") from None
    out = RosterFiles()
    modes: dict[str, str] = {}
    if "manifest.csv" in members:
        modes = _manifest(members["manifest.csv"], out)
    else:
        out.notes.append(("manifest.csv", "no manifest: every file present is read as bulk"))
    by_name = {n[:-len(".csv")]: n for n in members if n != "manifest.csv"}
    for name, mode in sorted(modes.items()):
        if mode not in MODES:
            out.notes.append((f"{name}.csv", f"manifest says file.{name} is {mode!r}, expected "
                              f"one of {', '.join(MODES)}; the file is not read"))
        elif mode != "absent" and name not in by_name:
            out.notes.append((f"{name}.csv", f"manifest says {mode} but the set has no "
                              f"{name}.csv; nothing of that kind is read"))
    for name, member in sorted(by_name.items()):
        mode = modes.get(name, "bulk" if not modes else "absent")
        if mode == "absent" or mode not in MODES:
            if mode == "absent":
                out.notes.append((member, f"present but the manifest says file.{name} is "
                                  "absent (or does not list it); ignored"))
            continue
        try:
            out.frames[name] = _csv(members[member])
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            out.notes.append((member, f"not readable as UTF-8 CSV ({exc}); ignored"))
            continue
        out.modes[name] = mode
    return out
