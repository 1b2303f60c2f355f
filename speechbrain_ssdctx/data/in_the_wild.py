"""In-the-Wild (Müller et al., 2022): deepfakes and real speech of public figures.

The release (``release_in_the_wild/``, 31.8 h, 19,963 bona fide and 11,816 spoofed
files of 58 speakers) is one folder of ``<n>.wav`` files with ``meta.csv``::

    file,speaker,label
    0.wav,Alec Guinness,spoof
    1.wav,Alec Guinness,bona-fide

It is a test set only (the generalisation test of detectors trained on ASVspoof): the
manifest keeps the speaker, so that bootstrap intervals can resample speakers.

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

__all__ = ["LABELS", "prepare_in_the_wild", "read_in_the_wild_meta"]

#: ``meta.csv`` label to the project's label.
LABELS = {"bona-fide": "bonafide", "spoof": "spoof"}
MANIFEST_COLUMNS_IN_THE_WILD = ("label", "attack", "speaker")


def read_in_the_wild_meta(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads ``meta.csv`` (``file,speaker,label``).

    Returns
    -------
    list of dict
        ``ID`` (the file name without extension), ``wav`` (the file name), ``label``
        (``bonafide`` or ``spoof``), ``attack`` (``-``: the release names no generator)
        and ``speaker``.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "meta.csv"
    >>> _ = path.write_text("file,speaker,label\\n0.wav,Alec Guinness,bona-fide\\n")
    >>> read_in_the_wild_meta(path)
    [{'ID': '0', 'wav': '0.wav', 'label': 'bonafide', 'attack': '-', 'speaker': 'Alec Guinness'}]
    """
    if not is_readable(path):
        raise ProtocolError(f"In-the-Wild metadata not found: {path}")
    path = read_input(path)
    text = "\n".join(line for _, line in read_lines(path, ProtocolError))
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    if header[:3] != ["file", "speaker", "label"]:
        raise ProtocolError(
            f"{path}, line 1: expected the header file,speaker,label, got {header}."
        )
    rows, numbers = [], []
    for fields in reader:
        number = reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            raise ProtocolError(
                f"{path}, line {number}: expected {len(header)} fields, got {fields}."
            )
        name, speaker, label = (field.strip() for field in fields[:3])
        if label.lower() not in LABELS:
            raise ProtocolError(
                f"{path}, line {number}: label {label!r} is not one of {tuple(LABELS)}."
            )
        rows.append({"ID": Path(name).stem, "wav": name, "label": LABELS[label.lower()],
                     "attack": "-", "speaker": speaker})
        numbers.append(number)
    if not rows:
        raise ProtocolError(f"{path} lists no files.")
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def prepare_in_the_wild(
    data_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> Path:
    """Writes ``in_the_wild.csv``, the manifest of the In-the-Wild test set.

    Arguments
    ---------
    data_folder : str or path-like
        ``release_in_the_wild/`` (holding ``meta.csv`` and the wav files).
    save_folder : str or path-like
        Where the manifest is written.
    skip_missing : bool
        Drop trials whose audio is missing (or unreadable) instead of stopping.
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    Path
        The manifest.
    """
    data_folder, save_folder = Path(data_folder), Path(save_folder)
    meta = data_folder / "meta.csv"
    if not meta.is_file():
        raise FileNotFoundError(
            f"No In-the-Wild release in {data_folder}: expected meta.csv and the wav files."
        )
    manifest = save_folder / "in_the_wild.csv"
    options = {"skip_missing": skip_missing, "check_headers": check_headers}
    record = PreparationRecord(save_folder, "in_the_wild", [meta, data_folder], options)
    if record.up_to_date([manifest]):
        logger.info("%s is up to date; skipping.", manifest)
        return manifest
    rows = read_in_the_wild_meta(meta)
    kept, problems = attach_audio(rows, data_folder, check_headers, "In-the-Wild")
    report_problems(problems, len(rows) - len(kept), skip_missing)
    write_manifest(manifest, kept, MANIFEST_COLUMNS_IN_THE_WILD)
    record.write()
    logger.info("Wrote %s (%d trials).", manifest, len(kept))
    return manifest
