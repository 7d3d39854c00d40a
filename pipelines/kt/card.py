"""Dataset cards: what the report quotes about a dataset besides the run's own results.

A card is a small TOML file written by whoever describes the dataset:

.. code-block:: toml

    about = "Published test AUCs on these files, from the dataset's README."
    goal = 0.83              # test AUC the engine's model should reach (optional)
    notes = "notes.md"       # Markdown appended to the report, relative to the card (optional)

    [[published]]            # figures published on these files (context, not run here)
    model = "DKT (Zhang et al. 2017)"
    auc = 0.805

The card of a dataset is, in this order: the file given by ``--card``; ``card.toml`` in the
dataset's folder (or ``NAME.card.toml`` beside a single-file dataset); ``CARDS_DIR/NAME.toml``,
``NAME`` being the dataset's name (:attr:`pipelines.kt_data.KTSplit.name`), for datasets whose
folder is not ours to write in (``experiments/kt_benchmark/cards/`` holds ASSIST2009's). Without a
card the report quotes no published figure and no goal. ``--published`` and ``--goal`` replace
the card's figures and goal, ``--notes`` its notes.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipelines.kt.config import SetupError

CARD_FILE = "card.toml"
"""A card's name inside a dataset folder."""

_KEYS = {"about", "goal", "notes", "published"}


@dataclass(frozen=True)
class DatasetCard:
    """What the report quotes about a dataset.

    ``published`` are ``(model, test AUC)`` pairs; ``origin`` says where the card came from (a
    file, options, or where none was found), for the report.
    """

    published: tuple[tuple[str, float], ...] = ()
    goal: float | None = None
    notes: Path | None = None
    about: str = ""
    origin: str = "no dataset card"

    @property
    def best_published(self) -> float | None:
        """The highest published test AUC, or None without published figures."""
        return max((auc for _, auc in self.published), default=None)


def _auc(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1 \
            or math.isnan(value):
        raise SetupError(f"{where}: {value!r} is not a test AUC; expected a number in [0, 1]")
    return float(value)


def load_card(path: Path) -> DatasetCard:
    """Read and check a card file; errors name the file, the field and what was expected."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SetupError(f"cannot read dataset card {path}: {exc}") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise SetupError(f"{path}: unknown field(s) {unknown}; a card has {sorted(_KEYS)}")
    published = []
    entries = data.get("published", [])
    if not isinstance(entries, list):
        raise SetupError(f"{path}: published must be a list of [[published]] tables")
    for i, entry in enumerate(entries, start=1):
        model = entry.get("model") if isinstance(entry, dict) else None
        if not isinstance(model, str) or not model.strip() or set(entry) != {"model", "auc"}:
            raise SetupError(f"{path}: published entry {i} must have exactly a non-empty 'model' "
                             f"and an 'auc'; got {entry!r}")
        published.append((model.strip(), _auc(entry["auc"], f"{path}: published entry {i} auc")))
    goal = data.get("goal")
    notes = data.get("notes")
    if notes is not None:
        if not isinstance(notes, str) or not notes.strip():
            raise SetupError(f"{path}: notes must be a file path relative to the card; got {notes!r}")
        notes = (path.parent / notes).resolve()
        if not notes.is_file():
            raise SetupError(f"{path}: its notes file {notes} does not exist")
    about = data.get("about", "")
    if not isinstance(about, str):
        raise SetupError(f"{path}: about must be text; got {about!r}")
    return DatasetCard(published=tuple(published),
                       goal=None if goal is None else _auc(goal, f"{path}: goal"),
                       notes=notes, about=about.strip(), origin=f"dataset card `{path}`")


def card_locations(data: Path, name: str, cards_dir: Path | None) -> list[Path]:
    """Where a dataset's card is looked for, in order (see the module docstring)."""
    data = Path(data)
    beside = data / CARD_FILE if data.is_dir() else data.with_name(f"{data.stem}.card.toml")
    return [beside] + ([Path(cards_dir) / f"{name}.toml"] if cards_dir is not None else [])


def parse_published(items: list[str]) -> tuple[tuple[str, float], ...]:
    """``MODEL=AUC`` options (``--published``) as ``(model, auc)`` pairs."""
    out = []
    for item in items:
        model, sep, auc = item.rpartition("=")
        try:
            value = float(auc)
        except ValueError:
            value = None
        if not sep or not model.strip() or value is None:
            raise SetupError(f"--published {item!r}: expected MODEL=AUC, e.g. 'DKT (2017)=0.805'")
        out.append((model.strip(), _auc(value, f"--published {item!r}")))
    return tuple(out)


def resolve_card(
    data: Path,
    name: str,
    *,
    card: Path | None = None,
    cards_dir: Path | None = None,
    published: list[str] | None = None,
    goal: float | None = None,
    notes: Path | None = None,
) -> DatasetCard:
    """The dataset's card (``card`` if given, else the first found), with the options applied."""
    if card is not None:
        found = load_card(card)
    else:
        places = card_locations(data, name, cards_dir)
        path = next((p for p in places if p.is_file()), None)
        found = load_card(path) if path is not None else DatasetCard(
            origin="no dataset card (looked for " + ", ".join(f"`{p}`" for p in places) + ")")
    changes: dict[str, Any] = {}
    if published:
        changes["published"] = parse_published(published)
    if goal is not None:
        changes["goal"] = _auc(goal, "--goal")
    if notes is not None:
        if not Path(notes).is_file():
            raise SetupError(f"--notes {notes}: no such file")
        changes["notes"] = Path(notes)
    if changes:
        given = ", ".join(f"--{k}" for k in changes)
        changes["origin"] = f"{found.origin}; {given} from the command line"
    return replace(found, **changes)
