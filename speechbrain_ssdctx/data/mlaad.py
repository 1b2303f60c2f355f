"""MLAAD (Müller et al., 2024): multilingual text-to-speech spoofs, with M-AILABS bona fide.

MLAAD holds the spoofs only, one folder per language and TTS model, each with its
``meta.csv`` (``|``-separated; ``path``, ``original_file`` (the M-AILABS utterance whose
transcript was spoken), ``language``, ``is_original_language``, ``duration``,
``training_data``, ``model_name``, ``architecture``, ``transcript``)::

    MLAAD/fake/<language>/<model>/meta.csv, *.wav     e.g. fake/de/tts_models_de_thorsten_vits/

Its bona fide side is the M-AILABS Speech Dataset, the source of its transcripts::

    <M-AILABS>/<locale>/by_book/<female|male|mix>/<speaker>/<book>/{metadata.csv,wavs/*.wav}

(``mix`` books have no speaker level: ``mix/<book>/``). ``metadata.csv`` lists one
utterance a line, ``<file id>|<transcript>|<normalised transcript>``.

Splits (train / dev / eval), deterministic and without leakage: spoofs by TTS model
(the model folder's name, in every language: a multilingual model is in one split), so
that dev and eval hold generators unseen in training, as ASVspoof's evaluation does; bona
fide by speaker (``mix`` books: by book), so that no voice is in two splits. A key goes
to the split its stable hash (MD5) falls in (``fractions``, default 70/15/15 %): adding
models or speakers (new MLAAD versions) moves none of the others.

MLAAD's audio comes at the models' own rates (16 to 48 kHz): the corpus is read at its
own rate and resampled to the recipe's (``Corpus.resample``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from speechbrain_ssdctx.data.preparation import (
    BONAFIDE,
    SPOOF,
    PreparationRecord,
    ProtocolError,
    attach_audio,
    check_unique_ids,
    report_problems,
    write_manifest,
)
from speechbrain_ssdctx.utils.textio import read_lines

logger = logging.getLogger(__name__)

__all__ = ["SPLITS", "prepare_mlaad", "read_mailabs", "read_mlaad_meta", "split_of"]

SPLITS = ("train", "dev", "eval")
MANIFEST_COLUMNS_MLAAD = ("label", "attack", "speaker", "language")


def split_of(key: str, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> str:
    """The split of a TTS model or speaker: where the MD5 of ``key`` falls in ``fractions``.

    Example
    -------
    >>> split_of("tts_models_de_thorsten_vits") in SPLITS
    True
    >>> split_of("any", fractions=(0.0, 1.0, 0.0))
    'dev'
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions: three shares summing to 1, got {list(fractions)}")
    point = int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) / 16**32
    bound = 0.0
    for split, share in zip(SPLITS, fractions, strict=True):
        bound += share
        if point < bound:
            return split
    return SPLITS[-1]


def read_mlaad_meta(path: Path) -> list[dict[str, str]]:
    """Reads one model folder's ``meta.csv`` (``|``-separated; ``,`` also read).

    Returns
    -------
    list of dict
        ``ID`` (``<language>-<model folder>-<file stem>``), ``wav`` (the file name, in the
        model folder), ``label`` (spoof), ``attack`` (the model folder), ``speaker``
        (``-``) and ``language`` (the language folder).

    Example
    -------
    >>> folder = getfixture("tmp_path") / "fake" / "de" / "tts_models_de_thorsten_vits"
    >>> folder.mkdir(parents=True)
    >>> _ = (folder / "meta.csv").write_text(
    ...     "path|original_file|language|transcript\\n"
    ...     "./fake/de/tts_models_de_thorsten_vits/a_1.wav|de_DE/by_book/x.wav|de|Hallo\\n")
    >>> read_mlaad_meta(folder / "meta.csv")[0]["ID"]
    'de-tts_models_de_thorsten_vits-a_1'
    """
    model, language = path.parent.name, path.parent.parent.name
    lines = [line for _, line in read_lines(path, ProtocolError)]
    delimiter = "|" if lines and "|" in lines[0] else ","
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter,
                            quoting=csv.QUOTE_NONE)
    if "path" not in [name.strip() for name in reader.fieldnames or []]:
        raise ProtocolError(f"{path}, line 1: expected a path column, got {reader.fieldnames}.")
    rows, numbers = [], []
    for fields in reader:
        audio = (fields.get("path") or "").strip()
        if not audio:
            raise ProtocolError(f"{path}, line {reader.line_num}: empty path.")
        name = Path(audio).name
        rows.append({"ID": f"{language}-{model}-{Path(name).stem}", "wav": name,
                     "label": SPOOF, "attack": model, "speaker": "-", "language": language})
        numbers.append(reader.line_num)
    check_unique_ids(path, zip(numbers, rows, strict=True))
    return rows


def read_mailabs(metadata: Path, locale: str, speaker: str) -> list[dict[str, str]]:
    """Reads one M-AILABS book's ``metadata.csv`` (``<file id>|<text>|<normalised text>``).

    Returns
    -------
    list of dict
        ``ID`` (``<locale>-<file id>``), ``wav`` (``wavs/<file id>.wav``), ``label``
        (bona fide), ``attack`` (``-``), ``speaker`` and ``language`` (the locale's
        language, e.g. ``de`` for ``de_DE``: MLAAD's language folders).

    Example
    -------
    >>> path = getfixture("tmp_path") / "metadata.csv"
    >>> _ = path.write_text("grune_01_f000001|Text.|Text.\\n")
    >>> read_mailabs(path, "de_DE", "eva_k")[0]["wav"]
    'wavs/grune_01_f000001.wav'
    """
    rows = []
    for number, line in read_lines(metadata, ProtocolError):
        if not line.strip():
            continue
        file_id = line.split("|", 1)[0].strip()
        if not file_id or len(file_id.split()) != 1:
            raise ProtocolError(f"{metadata}, line {number}: expected <file id>|<text>|...")
        rows.append({"ID": f"{locale}-{file_id}", "wav": f"wavs/{file_id}.wav",
                     "label": BONAFIDE, "attack": "-", "speaker": speaker,
                     "language": locale.split("_")[0].lower()})
    return rows


def prepare_mlaad(
    mlaad_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    mailabs_folder: str | os.PathLike | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    skip_missing: bool = False,
    check_headers: bool = False,
) -> dict[str, Path]:
    """Writes ``mlaad_{train,dev,eval}.csv``: MLAAD's spoofs and M-AILABS's bona fide.

    Arguments
    ---------
    mlaad_folder : str or path-like
        The MLAAD folder (holding ``fake/``).
    save_folder : str or path-like
        Where the manifests go.
    mailabs_folder : str or path-like, optional
        The M-AILABS folder (holding ``<locale>/by_book/``); None: ``mlaad_folder``'s
        ``original/`` if there is one (some copies keep it there), else an error.
    fractions : sequence of 3 floats
        The train / dev / eval shares of the models and of the speakers.
    skip_missing : bool
        Drop utterances whose audio is missing (or unreadable) instead of stopping.
    check_headers : bool
        Also read every file's header.

    Returns
    -------
    dict
        ``train``, ``dev``, ``eval`` to their manifest.
    """
    mlaad, save_folder = Path(mlaad_folder), Path(save_folder)
    mailabs = Path(mailabs_folder) if mailabs_folder is not None else mlaad / "original"
    if not (mlaad / "fake").is_dir():
        raise FileNotFoundError(f"No MLAAD in {mlaad}: expected fake/<language>/<model>/.")
    if not mailabs.is_dir():
        raise FileNotFoundError(
            f"No M-AILABS folder ({mailabs}), MLAAD's bona fide side: give mailabs_folder "
            "(holding <locale>/by_book/)."
        )
    outputs = {split: save_folder / f"mlaad_{split}.csv" for split in SPLITS}
    options = {"skip_missing": skip_missing, "check_headers": check_headers,
               "fractions": list(fractions)}
    record = PreparationRecord(save_folder, "mlaad", [mlaad / "fake", mailabs], options)
    if record.up_to_date(list(outputs.values())):
        logger.info("The MLAAD manifests in %s are up to date; skipping.", save_folder)
        return outputs
    by_split: dict[str, list[dict[str, str]]] = {split: [] for split in SPLITS}
    problems, dropped = [], 0
    for folder, rows, key in _spoof_groups(mlaad) + _bonafide_groups(mailabs):
        kept, found = attach_audio(rows, folder, check_headers, f"{folder}")
        by_split[split_of(key, fractions)] += kept
        problems += found
        dropped += len(rows) - len(kept)
    report_problems(problems, dropped, skip_missing)
    every = [row for split in SPLITS for row in by_split[split]]
    check_unique_ids(save_folder / "mlaad", enumerate(every, start=1))
    save_folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        write_manifest(outputs[split], by_split[split], MANIFEST_COLUMNS_MLAAD)
        logger.info("Wrote %s (%d utterances).", outputs[split], len(by_split[split]))
        labels = {row["label"] for row in by_split[split]}
        if labels != {BONAFIDE, SPOOF}:
            logger.warning("The MLAAD %s split holds %s: too few models or speakers for "
                           "the shares %s.", split, " and ".join(sorted(labels)) or "nothing",
                           list(fractions))
    record.write()
    return outputs


def _spoof_groups(mlaad: Path) -> list[tuple[Path, list[dict[str, str]], str]]:
    """``(model folder, rows, split key: the model)`` of every ``fake/<lang>/<model>/``."""
    groups = []
    for meta in sorted((mlaad / "fake").glob("*/*/meta.csv")):
        groups.append((meta.parent, read_mlaad_meta(meta), f"model:{meta.parent.name}"))
    if not groups:
        raise FileNotFoundError(f"No fake/<language>/<model>/meta.csv in {mlaad}.")
    return groups


def _bonafide_groups(mailabs: Path) -> list[tuple[Path, list[dict[str, str]], str]]:
    """``(book folder, rows, split key: the speaker)`` of every M-AILABS book."""
    groups = []
    for metadata in sorted(mailabs.glob("*/by_book/*/**/metadata.csv")):
        book = metadata.parent
        locale = book.relative_to(mailabs).parts[0]
        gender = book.relative_to(mailabs / locale / "by_book").parts[0]
        # <gender>/<speaker>/<book>, or mix/<book> (many speakers: the book is the key)
        speaker = book.parent.name if gender != "mix" else f"mix-{book.name}"
        groups.append((book, read_mailabs(metadata, locale, speaker),
                       f"speaker:{locale}/{speaker}"))
    if not groups:
        raise FileNotFoundError(f"No <locale>/by_book/.../metadata.csv in {mailabs}.")
    return groups
