"""A model bundle: one version of ``mastery`` and everything its run logged, in one directory.

The registry is one way to move a model; a bundle is the other. It needs no tracking server and
no registry to be read, so a trained model can be copied to another platform, checked in, or
served from a folder (``PDREC_MODEL_DIR``, :func:`pipelines.app.create_app`).

Layout (every file's SHA-256 is in the manifest)::

    bundle.json            the manifest: format version, model version, run id, trained_at,
                           the alias it was exported through, notes, files -> sha256
    model/                 the MLflow model directory exactly as MLflow wrote it (MLmodel,
                           the pyfunc, environment files): MLflow's own format, no pickle of ours
    params.json            the run's logged parameters (model, ranker.*, estimator.*, ...)
    gain_posteriors.csv    optional, as the run logged it
    rater_severity.csv     optional
    model_card.json        optional

:func:`load_bundle` verifies the manifest and returns the same :class:`~pipelines.tracking.Champion`
the registry path returns (:func:`pipelines.tracking.load_version_bundle`), so what serves or
uses it is unchanged. The hashes catch a partial copy or an edited file; they are not a
signature (whoever can rewrite the files can rewrite the manifest).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import pandas as pd

from pipelines import tracking
from pipelines.model_card import CARD_ARTIFACT
from pipelines.tracking import GAINS_ARTIFACT, SEVERITY_ARTIFACT, Champion

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "MODEL_DIR", "PARAMS", "BundleError",
           "Manifest", "export_bundle", "load_bundle", "read_card", "read_manifest",
           "verify_bundle"]

FORMAT = "pdrec-model-bundle"
FORMAT_VERSION = 1
MANIFEST = "bundle.json"
MODEL_DIR = "model"
PARAMS = "params.json"
_TABLES = ((GAINS_ARTIFACT, tracking.read_gains, "the catalog's prior gains"),
           (SEVERITY_ARTIFACT, tracking.read_severity, "no rater correction"))
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """A bundle that cannot be trusted or read: the message names the directory and the file."""


@dataclass(frozen=True)
class Manifest:
    """What ``bundle.json`` says (read by :func:`read_manifest`).

    Attributes
    ----------
    version, run_id : str
        The registered version of ``mastery`` and its training run.
    trained_at : str or None
        When the run started (ISO 8601, UTC).
    exported_at : str
        When the bundle was written.
    alias : str or None
        The alias it was exported through (``champion``, ``champion-<tenant>``), None by number.
    files : Mapping
        Relative POSIX path -> SHA-256 of every file in the bundle but the manifest.
    notes : tuple of str
        Why an optional table or the card is absent (as the registry load said).
    """

    version: str
    run_id: str
    trained_at: str | None
    exported_at: str
    alias: str | None
    files: Mapping[str, str]
    notes: tuple[str, ...] = ()


def export_bundle(source: Champion | str | int, out_dir: Path, *,
                  alias: str | None = None) -> Manifest:
    """Write one registered version of ``mastery`` as a bundle in ``out_dir``; return its manifest.

    Parameters
    ----------
    source : Champion or str or int
        A version read from the registry (:func:`pipelines.tracking.load_champion_bundle` or
        :func:`~pipelines.tracking.load_version_bundle`), or a version number to read. The MLflow
        model directory is always copied from the registry (configure tracking first).
    out_dir : Path
        Must not exist or be empty. The bundle is built in a sibling folder and moved in whole,
        so a failed export leaves nothing half-written there.
    alias : str or None
        The alias ``source`` was resolved through, recorded in the manifest.

    Raises
    ------
    BundleError
        ``out_dir`` exists and is not an empty directory.
    LookupError
        The registry has no such version.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BundleError(f"bundle directory {str(out_dir)!r} exists and is not empty: "
                          "export into a new directory")
    champion = source if isinstance(source, Champion) else tracking.load_version_bundle(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tracking.download_model(champion.version, work / MODEL_DIR)
        _write_run_files(champion, work)
        files = {path: _sha256(work / path) for path in _listed(work)}
        manifest = Manifest(version=champion.version, run_id=champion.run_id,
                            trained_at=champion.trained_at,
                            exported_at=datetime.now(UTC).isoformat(), alias=alias,
                            files=MappingProxyType(files), notes=champion.notes)
        (work / MANIFEST).write_text(json.dumps(_manifest_json(manifest), indent=2) + "\n")
        if out_dir.exists():
            out_dir.rmdir()
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _write_run_files(champion: Champion, work: Path) -> None:
    """The run's parameters, card and optional tables, written as :func:`log_training` logs
    them (so :func:`load_bundle` reads them back with the registry's own readers)."""
    (work / PARAMS).write_text(json.dumps(dict(champion.params), indent=2, sort_keys=True))
    if champion.card is not None:
        (work / CARD_ARTIFACT).write_text(json.dumps(champion.card, indent=2))
    if champion.gains is not None:
        (work / GAINS_ARTIFACT).write_text(champion.gains.reset_index().to_csv(index=False))
    if champion.severity is not None:
        (work / SEVERITY_ARTIFACT).write_text(champion.severity.to_csv(index=False))


def read_manifest(bundle_dir: Path) -> Manifest:
    """The manifest of ``bundle_dir``, its fields checked (not the files: :func:`verify_bundle`).

    Raises BundleError naming the directory and the field for a missing or unreadable
    ``bundle.json``, another format or format version, or a malformed entry.
    """
    bundle_dir = Path(bundle_dir)
    where = f"bundle {str(bundle_dir)!r}"
    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise BundleError(f"{where}: no {MANIFEST} (not a bundle; `pdrec model export` writes one)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where}: {MANIFEST} is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{where}: {MANIFEST} must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{where}: {MANIFEST} format {data.get('format')!r} version "
                          f"{data.get('format_version')!r}; expected {FORMAT!r} version "
                          f"{FORMAT_VERSION}")
    for key in ("version", "run_id", "exported_at"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BundleError(f"{where}: {MANIFEST} field {key!r} must be a non-empty string, "
                              f"got {data.get(key)!r}")
    files = data.get("files")
    if not isinstance(files, dict) or f"{MODEL_DIR}/MLmodel" not in files:
        raise BundleError(f"{where}: {MANIFEST} field 'files' must map every file to its "
                          f"sha256 and list {MODEL_DIR}/MLmodel")
    for name, digest in files.items():
        if not _safe_path(name) or not isinstance(digest, str) or not _SHA256.match(digest):
            raise BundleError(f"{where}: {MANIFEST} entry {name!r}: {digest!r}; expected a "
                              "relative path inside the bundle and a hex sha256")
    notes = data.get("notes") or []
    return Manifest(version=data["version"], run_id=data["run_id"],
                    trained_at=data.get("trained_at"), exported_at=data["exported_at"],
                    alias=data.get("alias"), files=MappingProxyType(dict(files)),
                    notes=tuple(str(n) for n in notes))


def verify_bundle(bundle_dir: Path) -> Manifest:
    """Check every file of ``bundle_dir`` against its manifest; return the manifest.

    Raises
    ------
    BundleError
        Naming the file: listed but missing, altered (its sha256 differs), or present but not
        listed (a file added to ``model/`` could change what MLflow loads).
    """
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    where = f"bundle {str(bundle_dir)!r}"
    for name, expected in manifest.files.items():
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"{where}: file {name!r} listed in {MANIFEST} is missing")
        found = _sha256(path)
        if found != expected:
            raise BundleError(f"{where}: file {name!r} was altered: sha256 {found}, "
                              f"{MANIFEST} says {expected}")
    extra = sorted(set(_listed(bundle_dir)) - set(manifest.files) - {MANIFEST})
    if extra:
        raise BundleError(f"{where}: file {extra[0]!r} is not listed in {MANIFEST}"
                          + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    return manifest


def load_bundle(bundle_dir: Path) -> Champion:
    """The :class:`~pipelines.tracking.Champion` a bundle holds, verified first.

    The same object the registry path returns for that version: the model (read by MLflow from
    ``model/``, no tracking server or registry needed), the gains and rater severity tables
    (None with a note when the bundle has none, as for a run that logged none), the params,
    the card (None when absent) and when it was trained.

    Raises
    ------
    BundleError
        The manifest or a file fails verification (:func:`verify_bundle`), or a listed table or
        card cannot be parsed (the message names the file).
    """
    bundle_dir = Path(bundle_dir)
    manifest = verify_bundle(bundle_dir)
    where = f"bundle {str(bundle_dir)!r}"
    notes: list[str] = []
    tables: dict[str, pd.DataFrame | None] = {}
    for name, read, instead in _TABLES:
        if name not in manifest.files:
            tables[name] = None
            notes.append(f"{where} (version {manifest.version}, run {manifest.run_id}) has no "
                         f"{name}; using {instead}")
            continue
        try:
            table = read((bundle_dir / name).read_text(), manifest.run_id)
        except Exception as exc:  # noqa: BLE001 - re-raised naming the file
            raise BundleError(f"{where}: file {name!r} cannot be read ({exc})") from exc
        table.attrs.update(version=manifest.version, run_id=manifest.run_id)
        tables[name] = table
    card = read_card(bundle_dir)
    params = _json_file(bundle_dir, PARAMS, manifest) if PARAMS in manifest.files else {}
    predictor = tracking.load_model_dir(bundle_dir / MODEL_DIR, manifest.version)
    return Champion(version=manifest.version, run_id=manifest.run_id, predictor=predictor,
                    gains=tables[GAINS_ARTIFACT], severity=tables[SEVERITY_ARTIFACT],
                    params=MappingProxyType({str(k): str(v) for k, v in params.items()}),
                    notes=tuple(notes), card=card, trained_at=manifest.trained_at)


def read_card(bundle_dir: Path) -> dict | None:
    """The bundle's model card, None when it has none (verify the bundle first:
    :func:`verify_bundle`); BundleError naming the file when it is not a JSON object."""
    manifest = read_manifest(bundle_dir)
    if CARD_ARTIFACT not in manifest.files:
        return None
    return _json_file(Path(bundle_dir), CARD_ARTIFACT, manifest)


def _json_file(bundle_dir: Path, name: str, manifest: Manifest) -> dict:
    try:
        data = json.loads((bundle_dir / name).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {str(bundle_dir)!r}: file {name!r} is not readable JSON "
                          f"({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"bundle {str(bundle_dir)!r}: file {name!r} must hold a JSON object, "
                          f"got {type(data).__name__} (version {manifest.version})")
    return data


def _manifest_json(manifest: Manifest) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": tracking.MODEL_NAME,
            "version": manifest.version, "run_id": manifest.run_id,
            "trained_at": manifest.trained_at, "exported_at": manifest.exported_at,
            "alias": manifest.alias, "notes": list(manifest.notes),
            "files": dict(sorted(manifest.files.items()))}


def _listed(root: Path) -> list[str]:
    """Every file under ``root`` as a relative POSIX path (symlinks count as files)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() or p.is_symlink())


def _safe_path(name: object) -> bool:
    """A relative path that stays inside the bundle (no ``..``, not absolute, not the manifest)."""
    if not isinstance(name, str) or not name or name == MANIFEST or "\\" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
