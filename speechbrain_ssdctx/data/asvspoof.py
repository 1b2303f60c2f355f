"""ASVspoof 2019 LA, 2021 LA and 2021 DF: protocol and key parsing, manifest preparation.

Users bring the corpora in their official layouts:

- ASVspoof 2019 LA: ``LA/ASVspoof2019_LA_{train,dev,eval}/flac/*.flac``,
  ``LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt``
  and, for min t-DCF, the ASV scores
  ``LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt``;
- ASVspoof 2021 LA / DF evaluation: ``ASVspoof2021_{LA,DF}_eval/flac/*.flac`` with the keys
  package (``keys/{LA,DF}/CM/trial_metadata.txt``), or only the trial list
  ``ASVspoof2021_{LA,DF}_eval/ASVspoof2021.{LA,DF}.cm.eval.trl.txt`` (labels unknown).

The preparation functions write SpeechBrain CSV manifests (columns ``ID``, ``wav``,
``label``, ``attack``, ``speaker`` and, for 2021, the conditions). They skip the work when
the manifests are up to date, and stop on missing (or, with ``check_headers=True``,
unreadable) audio, naming the files, unless ``skip_missing=True``.

Bad input (a malformed line, an unknown label) raises ``ProtocolError`` naming the file
and the line.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.data.preparation import (
    BONAFIDE,
    UNKNOWN,
    MissingAudioError,
    PreparationRecord,
    ProtocolError,
    attach_audio,
    check_label,
    check_unique_ids,
    read_fields,
    read_manifest,
    report_problems,
    write_manifest,
)
from speechbrain_ssdctx.utils.textio import parse_number

logger = logging.getLogger(__name__)

__all__ = [
    "AsvScores",
    "MissingAudioError",
    "ProtocolError",
    "MANIFEST_COLUMNS",
    "prepare_asvspoof2019_la",
    "prepare_asvspoof2021",
    "read_asv_scores",
    "read_manifest",
    "read_protocol_2019",
    "read_trial_list",
    "read_trial_metadata_2021",
]

#: Manifest columns of each corpus, after ``ID`` and ``wav``.
MANIFEST_COLUMNS = {
    "2019LA": ("label", "attack", "speaker"),
    "2021LA": ("label", "attack", "speaker", "codec", "transmission", "subset"),
    "2021DF": ("label", "attack", "speaker", "compression", "source", "subset", "vocoder"),
}

SPLITS_2019 = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def read_protocol_2019(path: str | os.PathLike) -> list[dict[str, str]]:
    """Reads an ASVspoof 2019 LA CM protocol (speaker, utterance, ``-``, system, key).

    Arguments
    ---------
    path : str or path-like
        ``ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt``.

    Returns
    -------
    list of dict
        One row per trial with keys ``ID``, ``label``, ``attack`` (``-`` for bona fide)
        and ``speaker``, in file order.

    Example
    -------
    >>> rows = read_protocol_2019("tests/fixtures/asvspoof2019_la/LA/"
    ...     "ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt")
    >>> len(rows), rows[0]
    (71237, {'ID': 'LA_E_2834763', 'label': 'spoof', 'attack': 'A11', 'speaker': 'LA_0039'})
    """
    rows, numbers = [], []
    for number, fields in read_fields(path):
        if len(fields) != 5:
            raise ProtocolError(
                f"{path}, line {number}: expected 5 fields (speaker utt - system key), "
                f"got {len(fields)}: {' '.join(fields)!r}."
            )
        speaker, utt_id, _, attack, key = fields
        label = check_label(path, number, key)
        attack = "-" if label == BONAFIDE else attack
        rows.append({"ID": utt_id, "label": label, "attack": attack, "speaker": speaker})
        numbers.append(number)
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def read_trial_metadata_2021(path: str | os.PathLike, track: str) -> list[dict[str, str]]:
    """Reads an ASVspoof 2021 key (``keys/{LA,DF}/CM/trial_metadata.txt``).

    LA lines: ``speaker trial codec transmission attack key trim subset``; DF lines:
    ``speaker trial compression source attack key trim subset vocoder ...`` (four more
    fields, ignored). The bona fide attack column (``bonafide`` or ``-``) becomes ``-``.

    Arguments
    ---------
    path : str or path-like
        The key file.
    track : str
        ``"LA"`` or ``"DF"``.

    Returns
    -------
    list of dict
        One row per trial with keys ``ID`` and the ``MANIFEST_COLUMNS`` of the track.

    Example
    -------
    >>> import tempfile, pathlib
    >>> key = pathlib.Path(tempfile.mkdtemp()) / "trial_metadata.txt"
    >>> _ = key.write_text("LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\\n")
    >>> read_trial_metadata_2021(key, "LA")[0]["codec"]
    'alaw'
    """
    if track not in ("LA", "DF"):
        raise ValueError(f"track must be 'LA' or 'DF', got {track!r}.")
    min_fields = 8 if track == "LA" else 9
    rows, numbers = [], []
    for number, fields in read_fields(path):
        if len(fields) < min_fields or (track == "LA" and len(fields) != 8):
            raise ProtocolError(
                f"{path}, line {number}: a 2021 {track} key line needs "
                f"{'8' if track == 'LA' else 'at least 9'} fields, got {len(fields)}: "
                f"{' '.join(fields)!r}."
            )
        speaker, utt_id, condition, origin, attack, key, _trim, subset = fields[:8]
        label = check_label(path, number, key)
        row = {"ID": utt_id, "label": label, "speaker": speaker, "subset": subset}
        row["attack"] = "-" if label == BONAFIDE else attack
        if track == "LA":
            row.update(codec=condition, transmission=origin)
        else:
            row.update(compression=condition, source=origin, vocoder=fields[8])
        rows.append(row)
        numbers.append(number)
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def read_trial_list(path: str | os.PathLike) -> list[str]:
    """Reads a trial list (the first field of every line), e.g. a 2021 ``cm.eval.trl.txt``.

    Arguments
    ---------
    path : str or path-like
        The trial list.

    Returns
    -------
    list of str

    Example
    -------
    >>> ids = read_trial_list("tests/fixtures/asvspoof2021_la/ASVspoof2021.LA.cm.eval.trl.txt")
    >>> len(ids), ids[0]
    (181566, 'LA_E_9332881')
    """
    numbered = read_fields(path)
    check_unique_ids(path, ((number, {"ID": fields[0]}) for number, fields in numbered))
    return [fields[0] for _, fields in numbered]


@dataclass(frozen=True)
class AsvScores:
    """The organisers' ASV scores split by trial type.

    Arguments
    ---------
    target, nontarget, spoof : np.ndarray
        ASV scores of target, nontarget (zero-effort impostor) and spoofed trials.
    """

    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray


def read_asv_scores(path: str | os.PathLike) -> AsvScores:
    """Reads an ASVspoof 2019 ASV score file (``source key score`` per line).

    Arguments
    ---------
    path : str or path-like
        ``ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt``.

    Returns
    -------
    AsvScores

    Example
    -------
    >>> asv = read_asv_scores("tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_asv_scores/"
    ...     "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt")
    >>> asv.target.size, asv.nontarget.size, asv.spoof.size
    (1484, 5768, 22296)
    """
    groups: dict[str, list[float]] = {"target": [], "nontarget": [], "spoof": []}
    for number, fields in read_fields(path):
        if len(fields) != 3:
            raise ProtocolError(
                f"{path}, line {number}: expected 'source key score', got {' '.join(fields)!r}."
            )
        key = check_label(path, number, fields[1], tuple(groups))
        try:
            groups[key].append(parse_number(fields[2]))
        except ValueError as error:
            raise ProtocolError(f"{path}, line {number}: ASV score: {error}.") from None
    empty = [key for key, values in groups.items() if not values]
    if empty:
        raise ProtocolError(f"{path} has no {' / '.join(empty)} trials.")
    return AsvScores(**{key: np.asarray(values) for key, values in groups.items()})


def _la_2019_root(data_folder: Path) -> Path:
    """Accepts the ``LA`` folder itself or its parent."""
    for candidate in (data_folder, data_folder / "LA"):
        if (candidate / "ASVspoof2019_LA_cm_protocols").is_dir():
            return candidate
    raise FileNotFoundError(
        f"No ASVspoof 2019 LA layout in {data_folder}: expected "
        "ASVspoof2019_LA_cm_protocols/ there or in LA/ below it."
    )


def prepare_asvspoof2019_la(
    data_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> dict[str, Path]:
    """Writes the train, dev and eval manifests of ASVspoof 2019 LA.

    Arguments
    ---------
    data_folder : str or path-like
        The ``LA`` folder of the official layout (or its parent).
    save_folder : str or path-like
        Where ``asvspoof2019_la_{train,dev,eval}.csv`` are written.
    skip_missing : bool
        Drop trials whose audio is missing (or unreadable) instead of stopping; the number
        dropped is logged.
    check_headers : bool
        Also read every file's header (catches empty and non-audio files, not truncated
        ones; about 55 us per file with a warm page cache, i.e. ~7 s for the 121,461
        files of 2019 LA, more on a cold disk; see docs/data.md).

    Returns
    -------
    dict of Path
        ``"train"``, ``"dev"``, ``"eval"``: the manifests; ``"asv_dev"``, ``"asv_eval"``:
        the organisers' ASV score files, when present (min t-DCF needs them).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_ssdctx.data import demo_corpus_folder
    >>> out = prepare_asvspoof2019_la(demo_corpus_folder(), tempfile.mkdtemp())
    >>> sorted(out)
    ['dev', 'eval', 'train']
    """
    root = _la_2019_root(Path(data_folder))
    save_folder = Path(save_folder)
    protocols = {
        split: root / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt"
        for split, suffix in SPLITS_2019.items()
    }
    flac_folders = {split: root / f"ASVspoof2019_LA_{split}" / "flac" for split in SPLITS_2019}
    manifests = {split: save_folder / f"asvspoof2019_la_{split}.csv" for split in SPLITS_2019}
    outputs: dict[str, Path] = dict(manifests)
    for split in ("dev", "eval"):
        asv = root / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
        if asv.is_file():
            outputs[f"asv_{split}"] = asv.resolve()

    missing = [os.fspath(p) for p in protocols.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"ASVspoof 2019 LA protocol files not found: {missing}")
    options = {"skip_missing": skip_missing, "check_headers": check_headers}
    record = PreparationRecord(
        save_folder, "asvspoof2019_la", [*protocols.values(), *flac_folders.values()], options
    )
    if record.up_to_date(list(manifests.values())):
        logger.info("ASVspoof 2019 LA manifests in %s are up to date; skipping.", save_folder)
        return outputs

    kept, problems, dropped = {}, [], 0
    for split, protocol in protocols.items():
        rows = read_protocol_2019(protocol)
        kept[split], split_problems = attach_audio(
            rows, flac_folders[split], check_headers, f"ASVspoof 2019 LA {split}"
        )
        problems += split_problems
        dropped += len(rows) - len(kept[split])
    report_problems(problems, dropped, skip_missing)
    for split, rows in kept.items():
        write_manifest(manifests[split], rows, MANIFEST_COLUMNS["2019LA"])
        logger.info("Wrote %s (%d trials).", manifests[split], len(rows))
    record.write()
    return outputs


def _find_2021_inputs(
    data_folder: Path, track: str, keys_folder: Path | None
) -> tuple[Path, Path, bool]:
    """Returns (flac folder, key or trial list, whether it is a key)."""
    eval_folder = data_folder / f"ASVspoof2021_{track}_eval"
    if not eval_folder.is_dir() and data_folder.name == f"ASVspoof2021_{track}_eval":
        eval_folder = data_folder
    if keys_folder is not None:
        for candidate in (
            keys_folder / track / "CM" / "trial_metadata.txt",
            keys_folder / "CM" / "trial_metadata.txt",
            keys_folder / "trial_metadata.txt",
            keys_folder,
        ):
            if candidate.is_file():
                return eval_folder / "flac", candidate, True
        raise FileNotFoundError(
            f"No ASVspoof 2021 {track} key in {keys_folder}: expected "
            f"{track}/CM/trial_metadata.txt (the keys package layout)."
        )
    trial_list = eval_folder / f"ASVspoof2021.{track}.cm.eval.trl.txt"
    if not trial_list.is_file():
        raise FileNotFoundError(
            f"Neither keys nor the trial list {trial_list} found: pass keys_folder "
            f"(the keys package) or put the trial list in {eval_folder}."
        )
    return eval_folder / "flac", trial_list, False


def prepare_asvspoof2021(
    data_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    track: str = "LA",
    keys_folder: str | os.PathLike | None = None,
    skip_missing: bool = False,
    check_headers: bool = False,
) -> Path:
    """Writes the manifest of the ASVspoof 2021 LA or DF evaluation set.

    With the keys package, the manifest holds labels, attacks, conditions (``codec`` and
    ``transmission`` for LA; ``compression``, ``source`` and ``vocoder`` for DF) and the
    ``subset`` (``progress``, ``eval``, ``hidden``: official results use ``eval``). Without
    keys it is built from the trial list and every label is ``unknown``: systems can then
    be scored (a score file for the official package) but not evaluated.

    Arguments
    ---------
    data_folder : str or path-like
        Folder holding ``ASVspoof2021_{track}_eval/`` (or that folder itself).
    save_folder : str or path-like
        Where ``asvspoof2021_{track}_eval.csv`` is written.
    track : str
        ``"LA"`` or ``"DF"``.
    keys_folder : str or path-like, optional
        The keys package folder (holding ``{track}/CM/trial_metadata.txt``).
    skip_missing : bool
        Drop trials whose audio is missing (or unreadable) instead of stopping.
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    Path
        The manifest.
    """
    if track not in ("LA", "DF"):
        raise ValueError(f"track must be 'LA' or 'DF', got {track!r}.")
    data_folder, save_folder = Path(data_folder), Path(save_folder)
    flac_folder, source, is_key = _find_2021_inputs(
        data_folder, track, None if keys_folder is None else Path(keys_folder)
    )
    manifest = save_folder / f"asvspoof2021_{track}_eval.csv"
    options = {"skip_missing": skip_missing, "check_headers": check_headers, "track": track}
    record = PreparationRecord(save_folder, f"asvspoof2021_{track}", [source, flac_folder], options)
    if record.up_to_date([manifest]):
        logger.info("%s is up to date; skipping.", manifest)
        return manifest

    columns = MANIFEST_COLUMNS[f"2021{track}"]
    if is_key:
        rows = read_trial_metadata_2021(source, track)
    else:
        rows = [
            {column: "-" for column in columns} | {"ID": utt_id, "label": UNKNOWN}
            for utt_id in read_trial_list(source)
        ]
    kept, problems = attach_audio(rows, flac_folder, check_headers, f"ASVspoof 2021 {track}")
    report_problems(problems, len(rows) - len(kept), skip_missing)
    rows = kept
    write_manifest(manifest, rows, columns)
    record.write()
    logger.info("Wrote %s (%d trials%s).", manifest, len(rows), "" if is_key else ", no labels")
    return manifest
