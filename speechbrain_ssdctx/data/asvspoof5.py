"""ASVspoof 5 (2024): protocols, evaluation-package keys, and manifest preparation.

Users bring the corpus in its official layout (the Zenodo / HuggingFace release)::

    <folder>/ASVspoof5_protocols/ASVspoof5.train.tsv
    <folder>/ASVspoof5_protocols/ASVspoof5.dev.track_1.tsv
    <folder>/ASVspoof5_protocols/ASVspoof5.eval.track_1.tsv
    <folder>/flac_T/*.flac  flac_D/*.flac  flac_E_eval/*.flac

The protocols (``.tsv`` by name, whitespace-separated, no header) have ten columns:
``SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG
ATTACK_LABEL KEY TMP``. The manifests keep the label, the attack (``ATTACK_LABEL``, ``-``
for bona fide) and the codec columns, which the per-attack and per-codec breakdowns use.

The official evaluation package reads tab-separated keys with a header instead: Track 1
``filename<TAB>cm-label`` and Track 2 ``spk filename cm-label asv-label``; extra columns
``attack`` (or ``attack_anon``, ``attack_label``) and ``codec`` give breakdowns.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from speechbrain_ssdctx.data.preparation import (
    BONAFIDE,
    PreparationRecord,
    ProtocolError,
    attach_audio,
    check_label,
    check_unique_ids,
    read_fields,
    report_problems,
    write_manifest,
)
from speechbrain_ssdctx.utils.textio import read_lines

logger = logging.getLogger(__name__)

__all__ = [
    "MANIFEST_COLUMNS_ASVSPOOF5",
    "PROTOCOL_FILES",
    "prepare_asvspoof5",
    "read_cm_key",
    "read_protocol_asvspoof5",
    "read_sasv_key",
]

#: Protocol file and audio folder of each split.
PROTOCOL_FILES = {
    "train": ("ASVspoof5.train.tsv", "flac_T"),
    "dev": ("ASVspoof5.dev.track_1.tsv", "flac_D"),
    "eval": ("ASVspoof5.eval.track_1.tsv", "flac_E_eval"),
}
PROTOCOL_COLUMNS = (
    "speaker", "ID", "gender", "codec", "codec_q", "codec_seed", "attack_tag", "attack",
    "label", "tmp",
)
#: Manifest columns, after ``ID`` and ``wav``.
MANIFEST_COLUMNS_ASVSPOOF5 = (
    "label", "attack", "speaker", "codec", "codec_q", "gender", "attack_tag", "codec_seed",
)
#: Header names of the attack column in evaluation-package keys.
_ATTACK_HEADERS = ("attack", "attack_anon", "attack_label")


def read_protocol_asvspoof5(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads an ASVspoof 5 protocol (``ASVspoof5.{train,dev.track_1,eval.track_1}.tsv``).

    Arguments
    ---------
    path : str or path-like
        The protocol.

    Returns
    -------
    list of dict
        One row per trial: ``ID`` (the file name without ``.flac``), ``label``,
        ``attack`` (``-`` for bona fide), ``speaker``, ``gender``, ``codec``, ``codec_q``,
        ``codec_seed``, ``attack_tag``, in file order.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ASVspoof5.dev.track_1.tsv"
    >>> _ = path.write_text("D_0062 D_0000000001 F - - - AC3 A11 spoof -\\n")
    >>> row = read_protocol_asvspoof5(path)[0]
    >>> row["ID"], row["label"], row["attack"], row["codec"]
    ('D_0000000001', 'spoof', 'A11', '-')
    """
    rows, numbers = [], []
    for number, fields in read_fields(path):
        if len(fields) not in (9, 10):
            raise ProtocolError(
                f"{path}, line {number}: an ASVspoof 5 protocol line has 10 fields (SPEAKER_ID "
                f"FLAC_FILE_NAME ... KEY TMP), got {len(fields)}: {' '.join(fields)!r}."
            )
        row = dict(zip(PROTOCOL_COLUMNS, fields, strict=False))
        row.pop("tmp", None)
        row["label"] = check_label(path, number, row["label"])
        if row["label"] == BONAFIDE:
            row["attack"] = "-"
        rows.append(row)
        numbers.append(number)
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def _header_table(path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a whitespace-separated table with a header holding ``required`` columns."""
    lines = [(n, line.split()) for n, line in read_lines(path, ProtocolError) if line.strip()]
    if not lines:
        raise ProtocolError(f"{path} is empty.")
    header = [name.lower() for name in lines[0][1]]
    missing = [name for name in required if name not in header]
    if missing:
        raise ProtocolError(
            f"{path}, line {lines[0][0]}: the header needs the columns {' '.join(required)}; "
            f"missing {' '.join(missing)}."
        )
    rows = []
    for number, fields in lines[1:]:
        if len(fields) != len(header):
            raise ProtocolError(
                f"{path}, line {number}: expected {len(header)} fields as in the header, got "
                f"{len(fields)}: {' '.join(fields)!r}."
            )
        rows.append((number, dict(zip(header, fields, strict=True))))
    return rows


def _breakdown_columns(row: dict[str, str], label: str) -> dict[str, str]:
    """The attack and codec of a key row, when the key has them."""
    extra = {}
    attack = next((row[name] for name in _ATTACK_HEADERS if name in row), None)
    if attack is not None:
        extra["attack"] = "-" if label == BONAFIDE else attack
    if "codec" in row:
        extra["codec"] = row["codec"]
    return extra


def read_cm_key(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads an evaluation-package Track 1 key (``filename<TAB>cm-label`` with a header).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "key.tsv"
    >>> _ = path.write_text("filename\\tcm-label\\nE_000001\\tbonafide\\nE_000002\\tspoof\\n")
    >>> read_cm_key(path)
    [{'ID': 'E_000001', 'label': 'bonafide'}, {'ID': 'E_000002', 'label': 'spoof'}]
    """
    rows, numbers = [], []
    for number, row in _header_table(path, ("filename", "cm-label")):
        label = check_label(path, number, row["cm-label"])
        rows.append({"ID": row["filename"], "label": label, **_breakdown_columns(row, label)})
        numbers.append(number)
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def read_sasv_key(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads a Track 2 key (``spk filename cm-label asv-label`` with a header).

    Returns
    -------
    list of dict
        ``speaker``, ``ID`` (the file name), ``label`` (the CM label), ``asv_label``
        (``target``, ``nontarget`` or ``spoof``) and, when present, ``attack``, ``codec``.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "key.tsv"
    >>> _ = path.write_text("spk\\tfilename\\tcm-label\\tasv-label\\n"
    ...                     "E_0101\\tE_000001\\tbonafide\\ttarget\\n")
    >>> read_sasv_key(path)
    [{'speaker': 'E_0101', 'ID': 'E_000001', 'label': 'bonafide', 'asv_label': 'target'}]
    """
    rows, numbers = [], []
    for number, row in _header_table(path, ("spk", "filename", "cm-label", "asv-label")):
        label = check_label(path, number, row["cm-label"])
        asv_label = check_label(path, number, row["asv-label"], ("target", "nontarget", "spoof"))
        if (asv_label == "spoof") != (label == "spoof"):
            raise ProtocolError(
                f"{path}, line {number}: cm-label {label} does not match asv-label {asv_label}."
            )
        rows.append({
            "speaker": row["spk"], "ID": row["filename"], "label": label,
            "asv_label": asv_label, **_breakdown_columns(row, label),
        })
        numbers.append(number)
    check_unique_ids(path, zip(numbers, rows, strict=True), key=("speaker", "ID"))
    return rows


def _asvspoof5_root(data_folder: Path) -> tuple[Path, Path]:
    """The audio root and the protocol folder of an ASVspoof 5 layout."""
    for protocols in (data_folder / "ASVspoof5_protocols", data_folder):
        if (protocols / PROTOCOL_FILES["train"][0]).is_file():
            return data_folder, protocols
    raise FileNotFoundError(
        f"No ASVspoof 5 layout in {data_folder}: expected ASVspoof5_protocols/"
        f"{PROTOCOL_FILES['train'][0]} (and the dev and eval protocols) there."
    )


def prepare_asvspoof5(
    data_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> dict[str, Path]:
    """Writes the train, dev and (when its protocol is there) eval manifests of ASVspoof 5.

    Arguments
    ---------
    data_folder : str or path-like
        The ASVspoof 5 folder (see the module docstring).
    save_folder : str or path-like
        Where ``asvspoof5_{train,dev,eval}.csv`` are written.
    skip_missing : bool
        Drop trials whose audio is missing (or unreadable) instead of stopping.
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    dict of Path
        ``"train"``, ``"dev"`` and, when present, ``"eval"``.
    """
    root, protocol_folder = _asvspoof5_root(Path(data_folder))
    save_folder = Path(save_folder)
    splits = {
        split: (protocol_folder / name, root / folder)
        for split, (name, folder) in PROTOCOL_FILES.items()
        if split != "eval" or (protocol_folder / name).is_file()
    }
    missing = [os.fspath(p) for p, _ in splits.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"ASVspoof 5 protocol files not found: {missing}")
    if "eval" in splits and not splits["eval"][1].is_dir() and (root / "flac_E").is_dir():
        splits["eval"] = (splits["eval"][0], root / "flac_E")
    manifests = {split: save_folder / f"asvspoof5_{split}.csv" for split in splits}
    options = {"skip_missing": skip_missing, "check_headers": check_headers}
    inputs = [p for pair in splits.values() for p in pair]
    record = PreparationRecord(save_folder, "asvspoof5", inputs, options)
    if record.up_to_date(list(manifests.values())):
        logger.info("ASVspoof 5 manifests in %s are up to date; skipping.", save_folder)
        return manifests
    kept, problems, dropped = {}, [], 0
    for split, (protocol, folder) in splits.items():
        rows = read_protocol_asvspoof5(protocol)
        kept[split], split_problems = attach_audio(
            rows, folder, check_headers, f"ASVspoof 5 {split}"
        )
        problems += split_problems
        dropped += len(rows) - len(kept[split])
    report_problems(problems, dropped, skip_missing)
    for split, rows in kept.items():
        write_manifest(manifests[split], rows, MANIFEST_COLUMNS_ASVSPOOF5)
        logger.info("Wrote %s (%d trials).", manifests[split], len(rows))
    record.write()
    return manifests
