"""Write a mapped OneRoster roster into the store for one tenant (the write path of item 5).

:func:`import_roster` reads a set (:func:`~recommender.standards.oneroster_files.read_roster`),
maps it (:func:`~recommender.standards.oneroster.roster_educators`) and merges each educator's
roster keys (:data:`ROSTER_KEYS`) into their stored profile with
:meth:`~recommender.store.educators.EducatorStore.merge_profiles`: the goals and the profile keys
the roster does not own (``years_experience``, ``subject``, set through the API) are kept, and
an educator whose values did not change keeps their ``data_version`` (their mastery stays fresh).

Delta semantics, so an import never duplicates: the educator id is the key (one row per educator
however often they are imported); ``roster_modified`` (the row's ``dateLastModified``) is the
stamp, so a row older than what is stored is ``stale`` and changes nothing (reported, with its
line), and a file imported twice leaves everything ``unchanged``; a value the roster cannot give
(no school, no grade band) leaves the stored one as it is.
A ``tobedeleted`` educator is not deleted (their evidence and history stay): their
``roster_status`` becomes ``tobedeleted``; one never stored is ``missing`` (reported). A bulk
file does not mark educators it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.standards.oneroster import REJECTION_COLUMNS, RosterImport, roster_educators
from recommender.standards.oneroster_files import read_roster
from recommender.store.educators import ProfileWrite

__all__ = ["ROSTER_KEYS", "RosterResult", "import_roster", "roster_profiles"]

ROSTER_KEYS = {"role": "role", "grade_band": "grade_band", "school": "school",
               "school_name": "school_name", "roster_role": "roster_role",
               "status": "roster_status", "modified": "roster_modified"}
"""Educator columns of the mapped roster -> the profile keys the roster owns."""


@dataclass(frozen=True)
class RosterResult:
    """A roster import: the mapping, what the store did (None on a dry run), every row not used.

    ``rejections`` is the mapping's plus the rows the store did not apply (stale, or
    ``tobedeleted`` educators never stored), in :data:`~recommender.standards.oneroster.
    REJECTION_COLUMNS`.
    """

    roster: RosterImport
    written: ProfileWrite | None
    deleted: ProfileWrite | None
    rejections: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """The mapping's counts plus ``created``, ``updated``, ``unchanged``, ``stale``,
        ``marked_tobedeleted``, ``tobedeleted_not_stored``."""
        out = dict(self.roster.counts)
        if self.written is not None and self.deleted is not None:
            out.update(created=len(self.written.created), updated=len(self.written.updated),
                       unchanged=len(self.written.unchanged),
                       stale=len(self.written.stale) + len(self.deleted.stale),
                       marked_tobedeleted=len(self.deleted.updated) + len(self.deleted.unchanged),
                       tobedeleted_not_stored=len(self.deleted.missing))
        return out


def roster_profiles(educators: pd.DataFrame) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(active, tobedeleted)``: educator id -> the profile values to merge. Missing values and
    an empty ``dateLastModified`` are left out (the stored value stays); a ``tobedeleted``
    educator gets only its status and stamp."""
    frame = educators.rename(columns=ROSTER_KEYS)
    frame["roster_modified"] = frame["roster_modified"].replace("", np.nan)
    keys = list(ROSTER_KEYS.values())
    values = frame[keys].astype(object).where(frame[keys].notna(), None)
    gone = (frame["roster_status"] == "tobedeleted").to_numpy()
    active = dict(zip(frame["educator_id"][~gone],
                      values[~gone].to_dict("records"), strict=True))
    deleted = dict(zip(frame["educator_id"][gone],
                       values.loc[gone, ["roster_status", "roster_modified"]].to_dict("records"),
                       strict=True))
    return ({e: {k: v for k, v in p.items() if v is not None} for e, p in active.items()},
            {e: {k: v for k, v in p.items() if v is not None} for e, p in deleted.items()})


def _not_applied(educators: pd.DataFrame, ids: list[str], reason: str) -> pd.DataFrame:
    rows = educators[educators["educator_id"].isin(ids)]
    return pd.DataFrame({"file": "users.csv", "line": rows["line"].to_numpy(),
                         "sourced_id": rows["sourced_id"].to_numpy(),
                         "field": "dateLastModified", "value": rows["modified"].to_numpy(),
                         "reason": reason}, columns=list(REJECTION_COLUMNS))


def import_roster(store, tenant_id: str, source: Path | str | bytes | Mapping, *,  # noqa: ANN001
                  id_field: str = "sourcedId", dry_run: bool = False,
                  now: pd.Timestamp | str | None = None) -> RosterResult:
    """Read, map and (unless ``dry_run``) store a roster for one tenant; see the module
    docstring. ``store`` is a :class:`~recommender.store.Store`. Raises ``ValueError`` only
    for a source that is neither a folder nor a zip, or an unknown ``id_field``."""
    roster = roster_educators(read_roster(source), id_field=id_field, now=now)
    if dry_run:
        return RosterResult(roster, None, None, roster.rejections)
    active, gone = roster_profiles(roster.educators)
    store.ensure_tenant(tenant_id)  # as `pdrec keys create` does: a roster may come first
    written = store.merge_profiles(tenant_id, active, stamp="roster_modified")
    deleted = store.merge_profiles(tenant_id, gone, create=False, stamp="roster_modified")
    ed = roster.educators
    extra = [_not_applied(ed, written.stale + deleted.stale,
                          "older than the dateLastModified already imported; not applied"),
             _not_applied(ed, deleted.missing, "tobedeleted, but no such educator is stored")]
    extra = [e for e in extra if len(e)]
    rejections = (pd.concat([roster.rejections, *extra], ignore_index=True)
                  .sort_values(["file", "line"], kind="stable").reset_index(drop=True)
                  if extra else roster.rejections)
    return RosterResult(roster, written, deleted, rejections)
