"""Training on several corpora at once, each drawn with its own weight.

The recipes' ``train_corpora`` lists the training corpora, each with a sampling weight::

    train_corpora:
      - {corpus: demo, weight: 1}                    # a corpus of the registry
      - {corpus: MLAAD, weight: 2, path: /data/MLAAD} # path: else its hyperparameter
      - {csv: /data/mine/train.csv, dev: /data/mine/dev.csv, weight: 0.5}  # labelled CSVs
      - {folder: /data/other, weight: 1, name: other}  # bonafide/ and spoof/ sub-folders

or from the command line, in HyperPyYAML's syntax:
``--train_corpora='[{corpus: demo, weight: 1}, {csv: mine.csv, weight: 1}]'``.

Every entry gives one of ``corpus`` (its ``train`` and ``dev`` sets), ``csv`` (a labelled
``path,label`` CSV) or ``folder`` (a labelled folder, ``speechbrain_ssdctx.data.labelled``);
``weight`` (default 1, positive); ``dev`` (a labelled CSV or folder: the entry's dev set;
a registry corpus has its own, a CSV or folder without one adds nothing to dev);
``name`` (its name in the logs and results: default the corpus name, or the CSV's or
folder's stem); ``path`` (a registry corpus's data, default its hyperparameter, e.g.
``data_folder``, or the bundled data of the demo corpus).

The training set is the union of the entries' training sets and the dev set the union of
their dev sets, each row with a ``corpus`` column (``mixture_train.csv``,
``mixture_dev.csv``). An epoch draws ``train_corpora_samples`` utterances (default: the
training set's size) with replacement, corpus ``c`` with probability
``weight_c / sum(weights)`` (``speechbrain_ssdctx.data.sampling.CorpusSampler``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from speechbrain_ssdctx.data.corpora import Corpus, get_corpus
from speechbrain_ssdctx.data.labelled import prepare_labelled_csv, prepare_labelled_folder
from speechbrain_ssdctx.data.preparation import check_unique_ids, read_manifest, write_manifest

logger = logging.getLogger(__name__)

__all__ = ["CORPUS_COLUMN", "CorpusMixture", "MixtureError", "TrainingSource", "corpus_column"]

#: The manifest column naming each utterance's training corpus.
CORPUS_COLUMN = "corpus"
_KINDS = ("corpus", "csv", "folder")
_KEYS = {*_KINDS, "weight", "dev", "name", "path"}


class MixtureError(ValueError):
    """A ``train_corpora`` entry that cannot be used (names the entry and the problem)."""


@dataclass(frozen=True)
class TrainingSource:
    """One training corpus of a mixture.

    Arguments
    ---------
    name : str
        Its name in the ``corpus`` column, the logs and the results.
    weight : float
        Its sampling weight (its share of an epoch is ``weight / sum of weights``).
    kind : str
        ``"corpus"`` (a registry corpus), ``"csv"`` or ``"folder"`` (labelled data).
    source : str or None
        The registry corpus's data, or the CSV or folder (None: the corpus's bundled data).
    corpus : Corpus, optional
        The registry corpus (kind ``corpus``).
    dev : str, optional
        A labelled CSV or folder: the dev set of a ``csv`` or ``folder`` source.

    Example
    -------
    >>> TrainingSource("mine", 2.0, "csv", "mine.csv").weight
    2.0
    """

    name: str
    weight: float
    kind: str
    source: str | None
    corpus: Corpus | None = None
    dev: str | None = None

    def prepare(self, save_folder: Path, hparams: Mapping, skip_missing: bool) -> dict[str, Path]:
        """Prepares its ``train`` (and ``dev``, when it has one) manifests."""
        if self.kind == "corpus":
            options = {key: hparams.get(hp) for key, hp in self.corpus.options.items()}
            source = self.source if self.source is not None else self.corpus.folder()
            outputs = self.corpus.prepare(source, save_folder, skip_missing=skip_missing,
                                          **options)
            missing = {"train", "dev"} - outputs.keys()
            if missing:
                raise MixtureError(f"train_corpora: {self.name} makes no {sorted(missing)} set.")
            return {"train": outputs["train"], "dev": outputs["dev"]}
        outputs = {"train": _prepare_labelled(self.source, save_folder,
                                              f"mixture_{self.name}_train", skip_missing)}
        if self.dev is not None:
            outputs["dev"] = _prepare_labelled(self.dev, save_folder,
                                               f"mixture_{self.name}_dev", skip_missing)
        return outputs


def _prepare_labelled(source, save_folder: Path, name: str, skip_missing: bool) -> Path:
    if Path(source).is_dir():
        return prepare_labelled_folder(source, save_folder, name, skip_missing=skip_missing)
    return prepare_labelled_csv(source, save_folder, name, skip_missing=skip_missing)


class CorpusMixture:
    """The training corpora of ``train_corpora`` and their weights.

    Arguments
    ---------
    sources : sequence of TrainingSource
        The corpora (names unique).

    Example
    -------
    >>> mixture = CorpusMixture.from_entries(
    ...     [{"corpus": "demo", "weight": 3}, {"csv": "own/mine.csv"}], {})
    >>> mixture.weights
    {'demo': 3.0, 'mine': 1.0}
    >>> mixture.shares
    {'demo': 0.75, 'mine': 0.25}
    """

    def __init__(self, sources: Sequence[TrainingSource]):
        if not sources:
            raise MixtureError("train_corpora: the list is empty; give at least one corpus.")
        names = [source.name for source in sources]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise MixtureError(f"train_corpora: the name(s) {twice} are used twice; give each "
                               "entry its own name: ...")
        self.sources = list(sources)

    @classmethod
    def from_entries(cls, entries, hparams: Mapping) -> CorpusMixture:
        """The mixture of a ``train_corpora`` list (``hparams``: a registry corpus's data)."""
        if isinstance(entries, Mapping) or not isinstance(entries, Sequence):
            raise MixtureError(f"train_corpora: expected a list of entries, got {entries!r}.")
        return cls([_source(entry, hparams) for entry in entries])

    @classmethod
    def from_hparams(cls, hparams: Mapping) -> CorpusMixture | None:
        """The run's mixture, or None when ``train_corpora`` is not set (one corpus)."""
        entries = hparams.get("train_corpora")
        return None if entries is None else cls.from_entries(entries, hparams)

    @property
    def weights(self) -> dict[str, float]:
        """Each corpus's weight, by name."""
        return {source.name: source.weight for source in self.sources}

    @property
    def resamples(self) -> bool:
        """Whether any of its corpora is read at its own rate and resampled (labelled data,
        or a registry corpus that is): then the whole training and dev sets are."""
        return any(s.corpus is None or s.corpus.resample for s in self.sources)

    @property
    def shares(self) -> dict[str, float]:
        """Each corpus's expected share of an epoch's draws."""
        total = sum(self.weights.values())
        return {name: weight / total for name, weight in self.weights.items()}

    def prepare(self, save_folder, hparams: Mapping, skip_missing: bool = False) -> dict[str, Path]:
        """Writes ``mixture_train.csv`` and ``mixture_dev.csv`` (with a ``corpus`` column).

        Returns
        -------
        dict
            ``train`` and ``dev`` to their manifest.
        """
        save_folder = Path(save_folder)
        save_folder.mkdir(parents=True, exist_ok=True)
        parts: dict[str, list[tuple[str, Path]]] = {"train": [], "dev": []}
        for source in self.sources:
            for split, path in source.prepare(save_folder, hparams, skip_missing).items():
                parts[split].append((source.name, path))
        if not parts["dev"]:
            raise MixtureError("train_corpora: no entry has a dev set (a registry corpus, or "
                               "a csv or folder entry with dev: ...); the best checkpoint is "
                               "chosen on it.")
        return {split: _merge(named, save_folder / f"mixture_{split}.csv")
                for split, named in parts.items()}


def _source(entry, hparams: Mapping) -> TrainingSource:
    if not isinstance(entry, Mapping):
        raise MixtureError(f"train_corpora: an entry is a mapping such as "
                           f"{{corpus: demo, weight: 1}}, got {entry!r}.")
    unknown = sorted(set(entry) - _KEYS)
    kinds = [kind for kind in _KINDS if entry.get(kind) is not None]
    if unknown or len(kinds) != 1:
        raise MixtureError(f"train_corpora: {dict(entry)} needs exactly one of corpus, csv, "
                           f"folder" + (f" (unknown keys: {unknown})" if unknown else "") + ".")
    kind, weight = kinds[0], entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise MixtureError(f"train_corpora: {dict(entry)}: weight must be a positive number.")
    if kind != "corpus":
        source = os.fspath(entry[kind])
        return TrainingSource(str(entry.get("name") or Path(source).stem), float(weight), kind,
                              source, dev=None if entry.get("dev") is None
                              else os.fspath(entry["dev"]))
    try:
        corpus = get_corpus(str(entry["corpus"]))
    except KeyError as error:
        raise MixtureError(f"train_corpora: {error.args[0]}") from None
    if not corpus.trains:
        raise MixtureError(f"train_corpora: {corpus.name} is a test corpus (no train set).")
    source = entry.get("path")
    if source is None and corpus.hparam is not None:
        source = hparams.get(corpus.hparam)
        if source is None:
            raise MixtureError(f"train_corpora: {corpus.name} needs its data: path: ... in "
                               f"the entry, or --{corpus.hparam}.")
    return TrainingSource(str(entry.get("name") or corpus.name), float(weight), kind,
                          None if source is None else os.fspath(source), corpus=corpus)


def _merge(named: Sequence[tuple[str, Path]], manifest: Path) -> Path:
    """One manifest of several, each row tagged with its corpus (missing columns: ``-``)."""
    rows, columns = [], []
    for name, path in named:
        for row in read_manifest(path):
            rows.append({**row, CORPUS_COLUMN: name})
            columns += [c for c in row if c not in ("ID", "wav") and c not in columns]
    columns.append(CORPUS_COLUMN)
    try:
        check_unique_ids(manifest, enumerate(rows, start=1))
    except ValueError as error:
        raise MixtureError(f"train_corpora: two corpora share an utterance id ({error}); give "
                           "a labelled CSV an id column.") from None
    write_manifest(manifest, [{c: row.get(c, "-") for c in ("ID", "wav", *columns)}
                              for row in rows], columns)
    counts = {name: sum(row[CORPUS_COLUMN] == name for row in rows) for name, _ in named}
    logger.info("Wrote %s: %s.", manifest,
                ", ".join(f"{n} {count} utterances" for n, count in counts.items()))
    return manifest


def corpus_column(dataset) -> dict[str, str] | None:
    """``{utterance id: corpus}`` of a ``DynamicItemDataset`` with a ``corpus`` column, in
    the dataset's order (None: no such column: one training corpus).

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> corpus_column(DynamicItemDataset({"u1": {"corpus": "demo"}, "u2": {"corpus": "a"}}))
    {'u1': 'demo', 'u2': 'a'}
    """
    data, ids = getattr(dataset, "data", None), getattr(dataset, "data_ids", None)
    if not data or not ids or CORPUS_COLUMN not in data[ids[0]]:
        return None
    return {utt: data[utt][CORPUS_COLUMN] for utt in ids}
