"""Any labelled audio as a test set: a ``path,label`` CSV manifest.

Users who want to know how a detector does on their own recordings list them::

    path,label
    recordings/alice_01.wav,bonafide
    generated/tts_0001.flac,spoof

``path`` is relative to the CSV's folder (or absolute); ``label`` is ``bonafide``
(also ``bona-fide``, ``bona fide``) or ``spoof``. Optional columns: ``id`` (default:
the file name without extension, which must then be unique), ``speaker`` and
``attack`` (per-speaker bootstrap, per-attack breakdown).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

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

__all__ = ["prepare_labelled_csv", "read_labelled_csv"]

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
