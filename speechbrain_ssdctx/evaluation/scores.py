"""The score convention and score files: one number per utterance, higher = more bona fide.

Detectors return logits ``[batch, 2]`` with index 1 = bona fide. The score of the recipes
and of exported models is the bona fide log-odds, ``logit[1] - logit[0]`` (the log of
``p(bona fide) / p(spoof)`` under the softmax). The official AASIST code scores with the
raw bona fide logit ``logit[1]``; the bundled official models keep that, so their scores
equal the official ones. Both give the same decisions only at matching thresholds: a
threshold always belongs to one score type. Neither is a calibrated log-likelihood
ratio: ``speechbrain_ssdctx.evaluation.calibration`` maps scores to one.

Score files come in the formats the ASVspoof tools read:

- ``utt_id score`` per line, no header (ASVspoof 2019 / 2021, ``ssdctx-score``);
- ASVspoof 5 Track 1: tab-separated with the header ``filename<TAB>cm-score``;
- ASVspoof 5 Track 2 (SASV): ``spk filename cm-score asv-score sasv-score`` with that
  header (``-`` for a missing CM or ASV score); trials are (speaker, file) pairs;
- the ``utt_id score path`` table of ``ssdctx-score --format tsv``.

``read_score_file`` tells the CM formats apart by their header; a malformed line, a
repeated id, a number Python would accept but a score file should not hold (``1_5``,
``infinity``), a UTF-16 file: each is an error naming the file (and line).
``align_scores`` puts scores in the order of a key and names what is missing on either
side.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from speechbrain_ssdctx.utils.atomic import atomic_open
from speechbrain_ssdctx.utils.textio import TextInput, parse_number, read_input, read_lines

__all__ = [
    "DEFAULT_SCORE_TYPE",
    "PARTIAL_SUFFIX",
    "SCORE_MEANINGS",
    "SCORE_TYPES",
    "SasvScore",
    "ScoreFileError",
    "ScoreWriter",
    "align",
    "align_scores",
    "bonafide_scores",
    "read_sasv_score_file",
    "read_score_file",
    "score_file_kind",
    "write_score_file",
]

#: The score of models and runs that do not choose one: logit(bona fide) - logit(spoof).
DEFAULT_SCORE_TYPE = "log_odds"

#: Each score type (how ``[spoof, bona fide]`` logits become one score), in words.
SCORE_MEANINGS = {
    DEFAULT_SCORE_TYPE: "the bona fide log-odds, logit(bona fide) - logit(spoof)",
    "bonafide_logit": "the bona fide logit (as the official AASIST code)",
}

SCORE_TYPES = tuple(SCORE_MEANINGS)

#: A decimal number as score files write them (ASCII digits; no ``_`` separators, no
#: ``inf``/``nan`` words: Python's ``float`` accepts all of these, and ``1_5`` would
#: silently read as 15.0).
#: Deletes the characters of decimal numbers: what remains of a score is not a number.
_NUMBER_CHARACTERS = str.maketrans("", "", "0123456789+-.eE")
#: Header columns: which column holds the id and which the score, per format.
_CM_HEADERS = (("filename", "cm-score"), ("utt_id", "score"))
SASV_COLUMNS = ("spk", "filename", "cm-score", "asv-score", "sasv-score")


class ScoreFileError(ValueError):
    """A score file that cannot be parsed (the message names the file and the line)."""


class SasvScore(NamedTuple):
    """The scores of one SASV trial (ASVspoof 5 Track 2); ``None`` where a file has ``-``."""

    cm: float | None
    asv: float | None
    sasv: float


def bonafide_scores(
    logits: torch.Tensor, score_type: str = DEFAULT_SCORE_TYPE
) -> torch.Tensor:
    """Bona fide scores ``[batch]`` from logits ``[batch, 2]``.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, 2]`` logits, index 1 = bona fide.
    score_type : str
        ``"log_odds"`` (``logit[1] - logit[0]``) or ``"bonafide_logit"`` (``logit[1]``).

    Returns
    -------
    torch.Tensor
        ``[batch]`` scores.

    Example
    -------
    >>> logits = torch.tensor([[1.0, 3.0], [2.0, -1.0]])
    >>> bonafide_scores(logits)
    tensor([ 2., -3.])
    >>> bonafide_scores(logits, "bonafide_logit")
    tensor([ 3., -1.])
    """
    if score_type not in SCORE_TYPES:
        raise ValueError(f"score_type must be one of {SCORE_TYPES}, got {score_type!r}")
    if score_type == "bonafide_logit":
        return logits[:, 1]
    return logits[:, 1] - logits[:, 0]


def _split(line: str, tabs: bool) -> list[str]:
    return line.rstrip("\n").split("\t") if tabs else line.split()


def _header(path: TextInput, lines: list[tuple[int, str]]) -> tuple[list[str] | None, bool]:
    """The header columns of a score file (None if it has none) and whether it uses tabs."""
    first = next((line for _, line in lines if line.strip()), "")
    tabs = "\t" in first
    fields = [field.strip().lower() for field in _split(first, tabs)]
    if "sasv-score" in fields or "cm-score" in fields or fields[:2] == ["utt_id", "score"]:
        return fields, tabs
    return None, tabs


def score_file_kind(path: str | os.PathLike | TextInput) -> str:
    """``"sasv"`` for an ASVspoof 5 Track 2 score file, ``"cm"`` for any other.

    A pipe or stdin is read once: give the :class:`TextInput` of ``read_input`` here and
    to the reader (``read_score_file``, ``read_sasv_score_file``).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.tsv"
    >>> _ = path.write_text("spk\\tfilename\\tcm-score\\tasv-score\\tsasv-score\\n")
    >>> score_file_kind(path)
    'sasv'
    """
    path = read_input(path)
    header, _ = _header(path, read_lines(path, ScoreFileError)[:1])
    return "sasv" if header is not None and "sasv-score" in header else "cm"


def _score(path: TextInput, number: int, text: str, what: str) -> float:
    try:
        return parse_number(text)
    except ValueError as error:
        raise ScoreFileError(f"{path}, line {number}: score of {what}: {error}.") from None


def read_score_file(path: str | os.PathLike | TextInput) -> dict[str, float]:
    """Reads a CM score file: ``utt_id score`` lines, or a table with a header.

    Empty lines are ignored. The header ``filename<TAB>cm-score`` (ASVspoof 5) or
    ``utt_id<TAB>score...`` (``ssdctx-score --format tsv``) selects those columns.
    Any other line that does not hold exactly an id and a finite decimal number, and
    any repeated id, is an error naming the file and the line number (a half-written
    file usually ends with such a line).

    Arguments
    ---------
    path : str, path-like or TextInput
        The score file (UTF-8, with or without a byte-order mark), a pipe, a FIFO, ``-``
        (stdin) or a ``TextInput`` (``speechbrain_ssdctx.utils.textio.read_input``).

    Returns
    -------
    dict
        Utterance id to score, in file order.

    Example
    -------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "scores.txt"
    >>> _ = tmp.write_text("LA_E_1 0.5\\nLA_E_2 -1.25\\n")
    >>> read_score_file(tmp)
    {'LA_E_1': 0.5, 'LA_E_2': -1.25}
    >>> _ = tmp.write_text("filename\\tcm-score\\nE_000001\\t0.01\\n")
    >>> read_score_file(tmp)
    {'E_000001': 0.01}
    """
    path = read_input(path)
    lines = read_lines(path, ScoreFileError)
    header, tabs = _header(path, lines)
    if header is not None and "sasv-score" in header:
        raise ScoreFileError(
            f"{path} is an ASVspoof 5 Track 2 (SASV) score file, not a CM score file."
        )
    columns, first_row = (0, 1), 0
    if header is not None:
        id_name, score_name = next(
            pair for pair in _CM_HEADERS if all(name in header for name in pair)
        )
        columns, first_row = (header.index(id_name), header.index(score_name)), 1
    expected = "'utt_id score'" if header is None else f"{len(header)} columns"
    width = 2 if header is None else len(header)
    split_tabs = header is not None and tabs
    id_column, score_column = columns
    ids, texts, numbers = [], [], []
    for number, line in _data_lines(lines, first_row):
        fields = line.split("\t") if split_tabs else line.split()
        if len(fields) != width:
            raise ScoreFileError(
                f"{path}, line {number}: expected {expected}, got {line.strip()!r}."
            )
        ids.append(fields[id_column].strip())
        texts.append(fields[score_column].strip())
        numbers.append(number)
    if not ids:
        raise ScoreFileError(f"{path}: the score file holds no scores.")
    # Checks in bulk (fast); the slow path finds the first bad line and says why.
    try:
        values = [float(text) for text in texts]
        valid = not "".join(texts).translate(_NUMBER_CHARACTERS)
        valid = valid and bool(np.isfinite(values).all())
    except ValueError:
        valid = False
    if not valid:
        for number, utt_id, text in zip(numbers, ids, texts, strict=True):
            _score(path, number, text, utt_id)
    scores = dict(zip(ids, values, strict=True))
    if len(scores) < len(ids):
        line_of: dict[str, int] = {}
        for number, utt_id in zip(numbers, ids, strict=True):
            if utt_id in line_of:
                raise ScoreFileError(
                    f"{path}, line {number}: {utt_id} already scored on line {line_of[utt_id]}."
                )
            line_of[utt_id] = number
    return scores


def _data_lines(lines: list[tuple[int, str]], skip: int) -> list[tuple[int, str]]:
    """Non-empty lines after the first ``skip`` non-empty ones (the header)."""
    if skip:
        first = next(i for i, (_, line) in enumerate(lines) if line.strip())
        lines = lines[first + skip :]
    return [(number, line) for number, line in lines if line and not line.isspace()]


def read_sasv_score_file(path: str | os.PathLike | TextInput) -> dict[tuple[str, str], SasvScore]:
    """Reads an ASVspoof 5 Track 2 score file (``spk filename cm-score asv-score sasv-score``).

    A ``-`` in the CM or ASV column means the system gives no such score (an end-to-end
    SASV system): only the a-DCF can then be computed.

    Arguments
    ---------
    path : str, path-like or TextInput
        The score file, tab-separated, with the header (or a pipe, ``-``, a ``TextInput``).

    Returns
    -------
    dict
        ``(speaker, filename)`` to its ``SasvScore``, in file order.

    Example
    -------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "sasv.tsv"
    >>> _ = tmp.write_text("spk\\tfilename\\tcm-score\\tasv-score\\tsasv-score\\n"
    ...                    "E_0101\\tE_000001\\t-\\t-\\t0.04\\n")
    >>> read_sasv_score_file(tmp)
    {('E_0101', 'E_000001'): SasvScore(cm=None, asv=None, sasv=0.04)}
    """
    path = read_input(path)
    lines = read_lines(path, ScoreFileError)
    header, tabs = _header(path, lines)
    if header is None or any(column not in header for column in SASV_COLUMNS):
        raise ScoreFileError(
            f"{path}: a Track 2 score file needs the header {' '.join(SASV_COLUMNS)}."
        )
    index = [header.index(column) for column in SASV_COLUMNS]
    scores: dict[tuple[str, str], SasvScore] = {}
    line_of: dict[tuple[str, str], int] = {}
    for number, line in _data_lines(lines, 1):
        fields = [field.strip() for field in _split(line, tabs)]
        if len(fields) != len(header):
            raise ScoreFileError(
                f"{path}, line {number}: expected {len(header)} columns, got {line.strip()!r}."
            )
        speaker, filename, cm, asv, sasv = (fields[i] for i in index)
        trial = (speaker, filename)
        if trial in scores:
            raise ScoreFileError(
                f"{path}, line {number}: trial {speaker} {filename} already scored on line "
                f"{line_of[trial]}."
            )
        what = f"{speaker} {filename}"
        scores[trial] = SasvScore(
            cm=None if cm == "-" else _score(path, number, cm, what),
            asv=None if asv == "-" else _score(path, number, asv, what),
            sasv=_score(path, number, sasv, what),
        )
        line_of[trial] = number
    if not scores:
        raise ScoreFileError(f"{path}: the score file holds no scores.")
    return scores


def write_score_file(
    path: str | os.PathLike,
    utt_ids: Sequence[str],
    scores: Iterable[float],
    style: str = "txt",
) -> Path:
    """Writes a score file atomically (a temporary file, then a rename).

    A crash while writing never leaves a half-written file under ``path``. Scores are
    written with ``repr`` precision, so reading them back gives the same floats.

    Arguments
    ---------
    path : str or path-like
        Destination file (its folder is created if needed).
    utt_ids : sequence of str
        Utterance ids (no whitespace).
    scores : array_like
        One finite score per id.
    style : str
        ``"txt"``: ``utt_id score`` lines; ``"asvspoof5"``: the tab-separated
        ``filename<TAB>cm-score`` table of ASVspoof 5 Track 1.

    Returns
    -------
    Path
        The written file.

    Example
    -------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores.txt"
    >>> _ = write_score_file(out, ["a", "b"], [0.25, -3.0])
    >>> out.read_text()
    'a 0.25\\nb -3.0\\n'
    """
    if style not in ("txt", "asvspoof5"):
        raise ValueError(f"style must be 'txt' or 'asvspoof5', got {style!r}.")
    path = Path(path)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(utt_ids) != values.size:
        raise ValueError(f"{path}: {len(utt_ids)} ids for {values.size} scores.")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: refusing to write NaN or inf scores.")
    bad = [utt for utt in utt_ids if not utt or len(str(utt).split()) != 1]
    if bad:
        raise ValueError(f"{path}: utterance ids must be non-empty, no spaces: {bad[:3]}.")
    separator = " " if style == "txt" else "\t"
    text = "".join(
        f"{utt}{separator}{value!r}\n" for utt, value in zip(utt_ids, values.tolist(), strict=True)
    )
    with atomic_open(path) as stream:
        if style == "asvspoof5":
            stream.write("filename\tcm-score\n")
        stream.write(text)
    return path


def align(
    scores: Mapping,
    trials: Sequence,
    known: Iterable | None = None,
    score_name: str = "score file",
    key_name: str = "key",
) -> list:
    """The values of ``scores`` for ``trials``, in that order; missing ids are a clear error.

    Arguments
    ---------
    scores : mapping
        Utterance id (or ``(speaker, filename)`` trial) to score.
    trials : sequence
        The trials to evaluate (e.g. the ``eval`` subset of a key).
    known : iterable, optional
        All trials of the key (default ``trials``): scored trials outside it are an error.
    score_name, key_name : str
        How to name both sides in error messages (e.g. their paths).

    Returns
    -------
    list
        ``scores[trial]`` for every trial.

    Example
    -------
    >>> align({("s1", "f2"): 2.0, ("s1", "f1"): 1.0}, [("s1", "f1"), ("s1", "f2")])
    [1.0, 2.0]
    """
    missing = [trial for trial in trials if trial not in scores]
    known = set(trials if known is None else known)
    unknown = [trial for trial in scores if trial not in known]
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(trials)} trials of {key_name} have no score in "
            f"{score_name} (e.g. {', '.join(map(_name, missing[:3]))})"
        )
    if unknown:
        problems.append(
            f"{len(unknown)} of {len(scores)} ids of {score_name} are not in {key_name} "
            f"(e.g. {', '.join(map(_name, unknown[:3]))})"
        )
    if problems:
        raise ValueError("; ".join(problems) + ".")
    return [scores[trial] for trial in trials]


def align_scores(
    scores: Mapping[str, float],
    utt_ids: Sequence[str],
    known_ids: Iterable[str] | None = None,
    score_name: str = "score file",
    key_name: str = "key",
) -> np.ndarray:
    """``align`` for CM scores: a float64 array in the order of ``utt_ids``.

    Example
    -------
    >>> align_scores({"b": 2.0, "a": 1.0}, ["a", "b"]).tolist()
    [1.0, 2.0]
    """
    values = align(scores, utt_ids, known_ids, score_name, key_name)
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _name(trial) -> str:
    return " ".join(trial) if isinstance(trial, tuple) else str(trial)


#: Suffix of a score file while it is written (it gets its own name once complete).
PARTIAL_SUFFIX = ".partial"


class ScoreWriter:
    """Writes each score line as it comes to ``<out>.partial``; ``<out>`` once complete.

    Every line is written whole and flushed, so the partial file always holds whole
    lines of the scores computed so far. With ``resume`` the lines of an existing partial
    file are kept (a torn last line, from a killed run, is dropped) and ``done`` holds
    their keys (the utterance id, or the path with ``--format tsv``) and scores.

    Arguments
    ---------
    out : str
        The score file to write.
    style : str
        ``"txt"`` (``utt_id score``) or ``"tsv"`` (``utt_id<TAB>score<TAB>path``, a header).
    resume : bool
        Keep the scores of an earlier, interrupted run.

    Example
    -------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "scores.txt"
    >>> writer = ScoreWriter(str(out), "txt", resume=False)
    >>> writer.add("a", 0.5, "a.wav")
    >>> writer.close(complete=False)
    >>> ScoreWriter(str(out), "txt", resume=True).done
    {'a': 0.5}
    """

    def __init__(self, out: str | os.PathLike, style: str, resume: bool):
        self.out, self.style = os.fspath(out), style
        self.partial = Path(os.fspath(out) + PARTIAL_SUFFIX)
        self.done = self._read_done() if resume and self.partial.is_file() else {}
        self.stream = open(self.partial, "a" if self.done else "w", encoding="utf-8", newline="")
        if not self.done and style == "tsv":
            self._write(["utt_id", "score", "path"])

    def _read_done(self) -> dict[str, float]:
        text = self.partial.read_text(encoding="utf-8")
        whole = text[: text.rfind("\n") + 1]
        if whole != text:
            self.partial.write_text(whole, encoding="utf-8")
        rows = list(csv.reader(whole.splitlines(), delimiter="\t")) if self.style == "tsv" else [
            line.split() for line in whole.splitlines()]
        if self.style == "tsv":
            return {row[2]: float(row[1]) for row in rows[1:]}
        return {row[0]: float(row[1]) for row in rows}

    def _write(self, fields: list[str]) -> None:
        if self.style == "tsv":
            csv.writer(self.stream, delimiter="\t", lineterminator="\n").writerow(fields)
        else:
            self.stream.write(" ".join(fields) + "\n")
        self.stream.flush()

    def add(self, utt: str, score: float, path: str) -> None:
        """Writes one score line (whole, flushed)."""
        self._write([utt, repr(score), path] if self.style == "tsv" else [utt, repr(score)])

    def close(self, complete: bool) -> None:
        """Closes the partial file; renames it to ``out`` when every file is done."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        if complete:
            os.replace(self.partial, self.out)
