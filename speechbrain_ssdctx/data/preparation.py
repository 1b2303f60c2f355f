"""What every corpus preparer shares: reading protocols, checking audio, writing manifests.

A preparer reads a protocol (or key, or metadata table) into rows (``ID``, ``label`` and
metadata columns), attaches the audio path of every row (``wav``), and writes a
SpeechBrain CSV manifest atomically; a record of its inputs next to the manifest lets a
rerun skip up-to-date work. Every problem is one clear error naming the file (and line):
a malformed line, an unknown label, an utterance id listed twice (``ProtocolError``),
missing or unreadable audio (``MissingAudioError``, unless ``skip_missing``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import soundfile

from speechbrain_ssdctx.utils.atomic import atomic_open, remove_orphan_temporaries
from speechbrain_ssdctx.utils.textio import is_readable, read_lines

logger = logging.getLogger(__name__)

__all__ = [
    "PreparationRecord",
    "BONAFIDE",
    "MissingAudioError",
    "ProtocolError",
    "SPOOF",
    "UNKNOWN",
    "attach_audio",
    "check_label",
    "check_unique_ids",
    "read_fields",
    "read_manifest",
    "report_problems",
    "write_manifest",
]

BONAFIDE, SPOOF, UNKNOWN = "bonafide", "spoof", "unknown"

#: Bump when the manifests of a preparer change for the same inputs.
PREPARE_VERSION = 2


class ProtocolError(ValueError):
    """A protocol, key or score file that cannot be parsed (names the file and line)."""


class MissingAudioError(FileNotFoundError):
    """Audio files listed in a protocol are missing or unreadable."""


def read_fields(path: str | os.PathLike) -> list[tuple[int, list[str]]]:
    """Returns the (line number, whitespace-separated fields) of every non-empty line.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "protocol.txt"
    >>> _ = path.write_text("\\ufeffLA_0079 LA_T_1 - - bonafide\\n\\n")
    >>> read_fields(path)
    [(1, ['LA_0079', 'LA_T_1', '-', '-', 'bonafide'])]
    """
    if not is_readable(path):
        raise ProtocolError(f"Protocol file not found: {path}")
    rows = [(n, line.split()) for n, line in read_lines(path, ProtocolError) if line.strip()]
    if not rows:
        raise ProtocolError(f"{path} is empty.")
    return rows


def check_label(path, number: int, key: str, allowed=(BONAFIDE, SPOOF)) -> str:
    """``key`` if it is one of ``allowed``, else a ``ProtocolError`` naming file and line."""
    if key not in allowed:
        raise ProtocolError(f"{path}, line {number}: label {key!r} is not one of {allowed}.")
    return key


def check_unique_ids(path, numbered_rows: Iterable[tuple[int, dict]], key=("ID",)) -> None:
    """Refuses an id listed twice (e.g. once bona fide and once spoof), naming both lines.

    Arguments
    ---------
    path : path
        The protocol, for the message.
    numbered_rows : iterable of (int, dict)
        Line number and row.
    key : tuple of str
        The columns that identify a trial (``("speaker", "ID")`` for SASV trials).

    Example
    -------
    >>> rows = [(1, {"ID": "a", "label": "bonafide"}), (3, {"ID": "a", "label": "spoof"})]
    >>> check_unique_ids("key.txt", rows)
    Traceback (most recent call last):
    ...
    speechbrain_ssdctx.data.preparation.ProtocolError: key.txt, line 3: a is listed again \
(first on line 1, as bonafide; here as spoof).
    """
    first: dict[tuple, tuple[int, str]] = {}
    for number, row in numbered_rows:
        trial = tuple(row[column] for column in key)
        if trial in first:
            line, label = first[trial]
            raise ProtocolError(
                f"{path}, line {number}: {' '.join(trial)} is listed again (first on line "
                f"{line}, as {label}; here as {row.get('label', '?')})."
            )
        first[trial] = (number, row.get("label", "?"))


def read_manifest(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads a CSV manifest (``ID``, ``wav``, ``label``, ...); an id listed twice is an error.

    Arguments
    ---------
    path : str or path-like
        The manifest.

    Returns
    -------
    list of dict
        One row per trial (all values are strings).
    """
    text = "\n".join(line for _, line in read_lines(path, ProtocolError))
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and "ID" in rows[0]:
        check_unique_ids(path, ((number + 2, row) for number, row in enumerate(rows)))
    return rows


def write_manifest(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str]) -> None:
    """Writes a CSV manifest atomically (temporary file, then rename)."""
    with atomic_open(path, newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["ID", "wav", *columns])
        writer.writeheader()
        writer.writerows(rows)


def attach_audio(
    rows: list[dict[str, str]],
    folder: Path,
    check_headers: bool,
    what: str,
    extension: str = ".flac",
) -> tuple[list[dict[str, str]], list[str]]:
    """Adds the ``wav`` path (``folder/<ID><extension>``) to every row with audio.

    Existence is checked from one listing of the folder (fast: 182k files in well under
    a second); with ``check_headers`` every file header is also read with soundfile.
    Rows that already have a ``wav`` path (relative to ``folder``) keep it.

    Returns
    -------
    kept : list of dict
        The rows whose audio is there, with absolute ``wav`` paths.
    problems : list of str
        One description per kind of problem (missing, unreadable), with examples.
    """
    present = set(os.listdir(folder)) if folder.is_dir() else set()
    root = folder.resolve()
    missing, unreadable, kept = [], [], []
    for row in rows:
        if "wav" in row:  # a path given by the row (absolute, or relative to folder)
            name = row["wav"]
            exists = (root / name).is_file()
        else:
            name = f"{row['ID']}{extension}"
            exists = name in present
        if not exists:
            missing.append(name)
            continue
        wav = root / name
        if check_headers:
            try:
                soundfile.info(os.fspath(wav))
            except (soundfile.SoundFileError, RuntimeError):
                unreadable.append(name)
                continue
        kept.append({**row, "wav": os.fspath(wav)})
    problems = []
    for kind, names in (("missing", missing), ("unreadable", unreadable)):
        if names:
            examples = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            problems.append(
                f"{len(names)} of {len(rows)} {what} files {kind} in {root} (e.g. {examples})"
            )
    return kept, problems


def report_problems(problems: list[str], dropped: int, skip_missing: bool) -> None:
    """Stops on missing or unreadable audio, or logs how many trials were dropped."""
    if problems and not skip_missing:
        raise MissingAudioError(
            "; ".join(problems) + ". To drop them: skip_missing=True (recipes/train.py: "
            "--skip_missing_audio=True; recipes/prepare_asvspoof.py: --skip-missing)."
        )
    if problems:
        logger.warning("Dropped %d trials: %s.", dropped, "; ".join(problems))


class PreparationRecord:
    """What a preparation's manifests were made from, kept next to them.

    A rerun with the same inputs (sizes and modification times), options and preparation
    version finds the record and every output in place and skips the work. Opening the
    record removes the temporary files a killed earlier run left in ``save_folder``.

    Arguments
    ---------
    save_folder : path
        Where the manifests and the record (``.<name>_prepare.json``) are written.
    name : str
        The preparation's name.
    inputs : sequence of Path
        The files and folders the manifests are made from.
    options : dict
        The preparation's options (JSON-serialisable).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> source = folder / "protocol.txt"
    >>> _ = source.write_text("a bonafide")
    >>> record = PreparationRecord(folder, "demo", [source], {"skip_missing": False})
    >>> manifest = folder / "demo.csv"
    >>> _ = manifest.write_text("ID,wav")
    >>> record.up_to_date([manifest])
    False
    >>> record.write()
    >>> PreparationRecord(folder, "demo", [source], {"skip_missing": False}).up_to_date([manifest])
    True
    >>> PreparationRecord(folder, "demo", [source], {"skip_missing": True}).up_to_date([manifest])
    False
    """

    def __init__(self, save_folder: Path, name: str, inputs: Sequence[Path], options: dict):
        self.path = Path(save_folder) / f".{name}_prepare.json"
        self.signature = {
            "version": PREPARE_VERSION,
            "options": options,
            "inputs": {os.fspath(Path(p).resolve()): _stamp(Path(p)) for p in inputs},
        }
        for orphan in remove_orphan_temporaries(save_folder):
            logger.info("Removed %s, left by a preparation that was killed.", orphan)

    def up_to_date(self, outputs: Sequence[Path]) -> bool:
        """Whether the stored record matches and every output exists."""
        if not self.path.is_file() or not all(Path(p).is_file() for p in outputs):
            return False
        try:
            return json.loads(self.path.read_text(encoding="utf-8")) == self.signature
        except json.JSONDecodeError:
            return False

    def write(self) -> None:
        """Stores the record (once the manifests are written)."""
        with atomic_open(self.path) as stream:
            json.dump(self.signature, stream)


def _stamp(path: Path) -> list[int] | None:
    """A file's or folder's size and modification time (None if it does not exist)."""
    if not path.exists():
        return None
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]
