"""Any labelled audio as a test set: a ``path,label`` CSV manifest.

Users who want to know how a detector does on their own recordings list them::

    path,label
    recordings/alice_01.wav,bonafide
    generated/tts_0001.flac,spoof

``path`` is relative to the CSV's folder (or absolute); ``label`` is ``bonafide``
(also ``bona-fide``, ``bona fide``) or ``spoof``. Optional columns: ``id`` (default:
the file name without extension, which must then be unique), ``speaker`` and
``attack`` (per-speaker bootstrap, per-attack breakdown).

A labelled folder is the same without a CSV: ``bonafide/`` and ``spoof/`` sub-folders of
audio files, found recursively (a sub-folder of ``spoof/`` names the attack of its files:
``spoof/tts_a/x.wav`` is attack ``tts_a``); the utterance id is the file name without
extension (unique over the folder).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from speechbrain_ssdctx.data.audio_files import AUDIO_EXTENSIONS
from speechbrain_ssdctx.data.preparation import (
    PreparationRecord,
    ProtocolError,
    attach_audio,
    check_unique_ids,
    report_problems,
    write_manifest,
)
from speechbrain_ssdctx.utils.textio import is_readable, read_input, read_lines

logger = logging.getLogger(__name__)

__all__ = ["prepare_labelled_csv", "prepare_labelled_folder", "read_labelled_csv",
           "read_labelled_folder"]

#: Accepted spellings of the labels (lower case).
LABELS = {"bonafide": "bonafide", "bona-fide": "bonafide", "bona fide": "bonafide",
          "spoof": "spoof"}
MANIFEST_COLUMNS_LABELLED = ("label", "attack", "speaker")


def read_labelled_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads a ``path,label`` CSV (optional ``id``, ``speaker``, ``attack`` columns).

    Returns
    -------
    list of dict
        ``ID``, ``wav`` (as written in the CSV), ``label``, ``attack`` and ``speaker``
        (``-`` when absent).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.csv"
    >>> _ = path.write_text("path,label\\nrec/a.wav,Bona fide\\ngen/b.flac,spoof\\n")
    >>> [(row["ID"], row["label"]) for row in read_labelled_csv(path)]
    [('a', 'bonafide'), ('b', 'spoof')]
    """
    if not is_readable(path):
        raise ProtocolError(f"Labelled CSV not found: {path}")
    path = read_input(path)
    text = "\n".join(line for _, line in read_lines(path, ProtocolError))
    reader = csv.DictReader(io.StringIO(text))
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    if "path" not in columns or "label" not in columns:
        raise ProtocolError(
            f"{path}, line 1: the header needs the columns path,label; got {columns}."
        )
    reader.fieldnames = columns
    rows, numbers = [], []
    for fields in reader:
        number = reader.line_num
        if None in fields or any(value is None for value in fields.values()):
            raise ProtocolError(f"{path}, line {number}: expected {len(columns)} fields.")
        audio, label = fields["path"].strip(), fields["label"].strip().lower()
        if not audio:
            raise ProtocolError(f"{path}, line {number}: empty path.")
        if label not in LABELS:
            raise ProtocolError(
                f"{path}, line {number}: label {fields['label']!r} is not bonafide or spoof."
            )
        utt_id = (fields.get("id") or "").strip() or Path(audio).stem
        if len(utt_id.split()) != 1:
            raise ProtocolError(
                f"{path}, line {number}: id {utt_id!r} has spaces; give an id column."
            )
        rows.append({
            "ID": utt_id, "wav": audio, "label": LABELS[label],
            "attack": (fields.get("attack") or "-").strip() if LABELS[label] == "spoof" else "-",
            "speaker": (fields.get("speaker") or "-").strip(),
        })
        numbers.append(number)
    if not rows:
        raise ProtocolError(f"{path} lists no files.")
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def prepare_labelled_csv(
    csv_path: str | os.PathLike,
    save_folder: str | os.PathLike,
    name: str | None = None,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> Path:
    """Writes the manifest ``<name>.csv`` of a labelled test set.

    Arguments
    ---------
    csv_path : str or path-like
        The ``path,label`` CSV.
    save_folder : str or path-like
        Where the manifest is written.
    name : str, optional
        Name of the set (default: ``labelled_<CSV file name>``).
    skip_missing : bool
        Drop files that are missing (or unreadable) instead of stopping.
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    Path
        The manifest.
    """
    csv_path, save_folder = Path(csv_path), Path(save_folder)
    name = name or f"labelled_{csv_path.stem}"
    manifest = save_folder / f"{name}.csv"
    options = {"skip_missing": skip_missing, "check_headers": check_headers}
    record = PreparationRecord(save_folder, name, [csv_path], options)
    if record.up_to_date([manifest]):
        logger.info("%s is up to date; skipping.", manifest)
        return manifest
    rows = read_labelled_csv(csv_path)
    kept, problems = attach_audio(rows, csv_path.parent, check_headers, f"{csv_path}")
    report_problems(problems, len(rows) - len(kept), skip_missing)
    write_manifest(manifest, kept, MANIFEST_COLUMNS_LABELLED)
    record.write()
    logger.info("Wrote %s (%d trials).", manifest, len(kept))
    return manifest


def read_labelled_folder(folder: str | os.PathLike) -> list[dict[str, str]]:
    """Reads a labelled folder: the audio of its ``bonafide/`` and ``spoof/`` sub-folders.

    Returns
    -------
    list of dict
        ``ID`` (file name without extension), ``wav`` (relative to ``folder``), ``label``,
        ``attack`` (a spoof's first sub-folder under ``spoof/``, else ``-``) and
        ``speaker`` (``-``).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> for name in ("bonafide/a.wav", "spoof/tts_1/b.flac"):
    ...     (folder / name).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (folder / name).write_bytes(b"")
    >>> [(row["ID"], row["label"], row["attack"]) for row in read_labelled_folder(folder)]
    [('a', 'bonafide', '-'), ('b', 'spoof', 'tts_1')]
    """
    folder = Path(folder)
    missing = [label for label in ("bonafide", "spoof") if not (folder / label).is_dir()]
    if missing:
        raise ProtocolError(f"{folder}: a labelled folder holds bonafide/ and spoof/; "
                            f"{' and '.join(missing)}/ missing.")
    rows = []
    for label in ("bonafide", "spoof"):
        found = sorted(p for p in (folder / label).rglob("*")
                       if p.suffix.lower() in AUDIO_EXTENSIONS)
        for path in found:
            nested = path.relative_to(folder / label).parts
            attack = nested[0] if label == "spoof" and len(nested) > 1 else "-"
            rows.append({"ID": path.stem, "wav": path.relative_to(folder).as_posix(),
                         "label": label, "attack": attack, "speaker": "-"})
    if not rows:
        raise ProtocolError(f"{folder}: no audio files under bonafide/ or spoof/.")
    check_unique_ids(folder, enumerate(rows, start=1))
    return rows


def prepare_labelled_folder(
    folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    name: str,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> Path:
    """Writes the manifest ``<name>.csv`` of a labelled folder (``bonafide/``, ``spoof/``).

    Arguments
    ---------
    folder : str or path-like
        The folder.
    save_folder : str or path-like
        Where the manifest is written.
    name : str
        Name of the set.
    skip_missing : bool
        Drop unreadable files instead of stopping (with ``check_headers``).
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    Path
        The manifest.
    """
    folder, save_folder = Path(folder), Path(save_folder)
    manifest = save_folder / f"{name}.csv"
    rows = read_labelled_folder(folder)
    kept, problems = attach_audio(rows, folder, check_headers, f"{folder}")
    report_problems(problems, len(rows) - len(kept), skip_missing)
    write_manifest(manifest, kept, MANIFEST_COLUMNS_LABELLED)
    logger.info("Wrote %s (%d utterances).", manifest, len(kept))
    return manifest
