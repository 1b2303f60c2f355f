"""Benchmarks: several models scored on several test sets, in one resumable table.

A test set is named the way the recipes and ``ssdctx-score`` name data (:func:`resolve_test_sets`):

- a corpus of the registry (``speechbrain_ssdctx.data.corpora``) with its data:
  ``2019LA=/data/LA``, ``InTheWild=/data/release_in_the_wild``; a bundled corpus by its
  name alone (``demo``). Its scored test sets are used (not its training sets);
- a labelled CSV (``path,label``, ``speechbrain_ssdctx.data.labelled``): ``mine.csv``;
- a folder with ``bonafide/`` and ``spoof/`` subfolders (their audio, searched
  recursively, labelled by the subfolder).

:class:`Benchmark` scores every (model, set) pair it has no complete score file for,
into ``<folder>/scores/<model>/<set>.txt``: each score is written as it comes to the
``.partial`` file (:class:`~speechbrain_ssdctx.evaluation.scores.ScoreWriter`), which
takes the final name once the set is complete. A run that stops keeps its complete sets
and its partial one: the next run skips the first and continues the second. Then
:meth:`Benchmark.results` gives EER, minDCF, actDCF and Cllr per set with bootstrap
intervals, and the pooled EER of each model over the union of its sets' trials;
:func:`benchmark_markdown` renders them.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.data.audio_files import find_audio
from speechbrain_ssdctx.data.corpora import CORPORA, get_corpus
from speechbrain_ssdctx.data.preparation import BONAFIDE, SPOOF, ProtocolError, read_manifest
from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_llr_metrics, bootstrap_metrics
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import ScoreWriter, read_score_file
from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = ["Benchmark", "TestSet", "benchmark_markdown", "resolve_test_sets"]

#: The metrics of the table, their JSON keys and digits.
METRICS = (("EER (%)", "eer", 2), ("minDCF", "min_dcf", 4), ("actDCF", "act_dcf", 4),
           ("Cllr", "cllr", 4))


@dataclass(frozen=True)
class TestSet:
    """One labelled test set: a manifest (``ID``, ``wav``, ``label`` columns).

    Arguments
    ---------
    name : str
        Its name in file names and the JSON table (e.g. ``demo_eval``).
    title : str
        Its title in the markdown table (e.g. ``demo eval``).
    manifest : Path
        The manifest a preparer wrote.

    Example
    -------
    >>> TestSet("mine", "mine", Path("mine.csv")).name
    'mine'
    """

    __test__ = False  # not a pytest class

    name: str
    title: str
    manifest: Path

    def rows(self, max_per_class: int | None = None) -> list[dict[str, str]]:
        """The manifest's labelled rows (the first ``max_per_class`` of each class)."""
        rows = read_manifest(self.manifest)
        if any(row["label"] not in (BONAFIDE, SPOOF) for row in rows):
            raise ProtocolError(f"{self.title}: {self.manifest} has unlabelled trials")
        if max_per_class is None:
            return rows
        kept, counts = [], {BONAFIDE: 0, SPOOF: 0}
        for row in rows:
            counts[row["label"]] += 1
            if counts[row["label"]] <= max_per_class:
                kept.append(row)
        return kept


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "set"


def resolve_test_sets(spec: str, manifest_folder: str | os.PathLike) -> list[TestSet]:
    """The test sets a command-line name stands for, prepared into ``manifest_folder``.

    Arguments
    ---------
    spec : str
        ``CORPUS=PATH`` (a corpus of the registry and its data), ``CORPUS`` (a bundled
        corpus: ``demo``), a labelled ``.csv`` file, or a folder with ``bonafide/`` and
        ``spoof/`` subfolders.
    manifest_folder : str or path-like
        Where the manifests are written.

    Returns
    -------
    list of TestSet

    Example
    -------
    >>> import tempfile
    >>> [s.title for s in resolve_test_sets("demo", tempfile.mkdtemp())]
    ['demo eval']
    """
    folder = Path(manifest_folder)
    name, separator, source = spec.partition("=")
    if separator:
        if name not in CORPORA:
            raise ValueError(f"test set {spec!r}: no corpus named {name!r}; registered: "
                             f"{', '.join(CORPORA)}")
        return _corpus_sets(name, source, folder)
    path = Path(spec)
    if spec in CORPORA and not path.exists():
        if get_corpus(spec).folder is None:
            raise ValueError(f"test set {spec!r}: give its data as {spec}=PATH")
        return _corpus_sets(spec, get_corpus(spec).folder(), folder)
    if path.is_file():
        return _corpus_sets("labelled", path, folder)
    if path.is_dir():
        return _corpus_sets("labelled", _folder_csv(path, folder), folder)
    raise ValueError(f"test set {spec!r} is not a registered corpus ({', '.join(CORPORA)}), "
                     "a labelled CSV or a folder")


def _corpus_sets(name: str, source, folder: Path) -> list[TestSet]:
    corpus = get_corpus(name)
    outputs = corpus.prepare(source, folder / corpus.name)
    named = corpus.manifests(outputs, source, training=False)
    sets = []
    for set_name, manifest in named.items():
        if corpus.per_file:
            sets.append(TestSet(set_name, Path(source).stem, manifest))
            continue
        found = next(s for s in corpus.sets if s.name == set_name)
        if found.scored:
            sets.append(TestSet(f"{corpus.name}_{found.split}", corpus.set_title(found),
                                manifest))
    if not sets:
        raise ValueError(f"corpus {name!r} has no test set to score")
    return sets


def _folder_csv(path: Path, folder: Path) -> Path:
    """A labelled CSV of a folder with ``bonafide/`` and ``spoof/`` subfolders."""
    classes = {label: path / label for label in (BONAFIDE, SPOOF)}
    missing = [str(sub) for sub in classes.values() if not sub.is_dir()]
    if missing:
        raise ValueError(f"test folder {path} needs bonafide/ and spoof/ subfolders "
                         f"(missing: {', '.join(missing)}); or name its corpus: CORPUS={path}")
    target = folder / f"{_slug(path.resolve().name)}.csv"
    with atomic_open(target, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "label", "id"])
        for label, sub in classes.items():
            for audio in find_audio([sub]):
                utt = _slug(str(Path(audio).resolve().relative_to(path.resolve()).with_suffix("")))
                writer.writerow([str(Path(audio).resolve()), label, utt])
    return target


class Benchmark:
    """Scores models on test sets, resumably, and tabulates the results.

    Arguments
    ---------
    models : mapping
        Model name to what ``load_model`` takes (a bundled name, a folder, a Hub id).
    sets : sequence of TestSet
        The test sets.
    folder : str or path-like
        Where the score files go (``scores/<model>/<set>.txt``).
    load_model : callable
        ``load_model(source)``: an object with ``score_each(paths, batch_size)`` yielding
        results with ``score`` and ``error`` (a ``SpoofDetector``). Called only for a
        model with a set left to score.
    batch_size : int
        Windows per forward pass.
    max_per_class : int, optional
        Score only the first N bona fide and N spoofed trials of each set (quick checks).
    """

    def __init__(
        self,
        models: Mapping[str, str],
        sets: Sequence[TestSet],
        folder: str | os.PathLike,
        load_model: Callable[[str], object],
        batch_size: int = 1,
        max_per_class: int | None = None,
    ):
        names = [s.name for s in sets]
        if len(set(names)) != len(names):
            raise ValueError(f"two test sets share a name: {names}")
        self.models, self.sets, self.folder = dict(models), list(sets), Path(folder)
        self.load_model, self.batch_size = load_model, batch_size
        self.max_per_class = max_per_class

    def score_path(self, model: str, test_set: TestSet) -> Path:
        """The score file of one model on one set."""
        return self.folder / "scores" / _slug(model) / f"{test_set.name}.txt"

    def pending(self) -> list[tuple[str, TestSet]]:
        """The (model, set) pairs without a complete score file."""
        return [(model, s) for model in self.models for s in self.sets
                if not self.score_path(model, s).is_file()]

    def run(self, progress: Callable[[str], None] = print) -> Iterator[tuple[str, TestSet]]:
        """Scores every pending pair, model by model; yields each pair once it is complete."""
        pending = self.pending()
        for model in self.models:
            todo = [s for name, s in pending if name == model]
            if not todo:
                continue
            detector = self.load_model(self.models[model])
            for test_set in todo:
                progress(f"scoring {test_set.title} with {model}")
                self.score_set(detector, model, test_set)
                yield model, test_set

    def score_set(self, detector, model: str, test_set: TestSet) -> Path:
        """Scores one set into its score file (continuing its ``.partial`` file)."""
        out = self.score_path(model, test_set)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = test_set.rows(self.max_per_class)
        writer = ScoreWriter(out, "txt", resume=True)
        todo = [row for row in rows if row["ID"] not in writer.done]
        complete = False
        try:
            results = detector.score_each([row["wav"] for row in todo], self.batch_size)
            for row, result in zip(todo, results, strict=True):
                if result.error is not None:
                    raise ProtocolError(f"{test_set.title}: {result.error}")
                writer.add(row["ID"], result.score, row["wav"])
            complete = True
        finally:
            writer.close(complete=complete)
        return out

    def results(
        self, bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0
    ) -> dict[str, dict]:
        """Metrics of every model: ``{model: {"sets": {set: row}, "pooled_eer": ..}}``.

        A row holds ``title``, ``trials``, and for each of ``eer`` (%), ``min_dcf``,
        ``act_dcf`` and ``cllr`` (of the scores read as LLRs) an interval dict
        (``estimate``, ``low``, ``high``, ...; ``bootstrap`` replicates).
        """
        table = {}
        for model in self.models:
            sets, pooled_scores, pooled_labels = {}, [], []
            for test_set in self.sets:
                scores, labels = self._scores(model, test_set)
                intervals = bootstrap_metrics(scores, labels, bootstrap, confidence, seed=seed)
                intervals.update(bootstrap_llr_metrics(scores, labels, bootstrap, confidence,
                                                       seed=seed))
                sets[test_set.name] = {
                    "title": test_set.title, "trials": int(labels.size),
                    **{key: intervals[key].to_dict() for _, key, _ in METRICS},
                }
                pooled_scores.append(scores)
                pooled_labels.append(labels)
            scores, labels = np.concatenate(pooled_scores), np.concatenate(pooled_labels)
            table[model] = {"sets": sets,
                            "pooled_eer": 100 * compute_eer(scores[labels], scores[~labels])[0]}
        return table

    def _scores(self, model: str, test_set: TestSet) -> tuple[np.ndarray, np.ndarray]:
        path = self.score_path(model, test_set)
        scores = read_score_file(path)
        rows = test_set.rows(self.max_per_class)
        missing = [row["ID"] for row in rows if row["ID"] not in scores]
        if missing:
            raise ValueError(f"{path} has no score for {len(missing)} trials of "
                             f"{test_set.title} (e.g. {missing[0]}); delete it to rescore")
        return (np.array([scores[row["ID"]] for row in rows]),
                np.array([row["label"] == BONAFIDE for row in rows]))


def benchmark_markdown(table: Mapping[str, Mapping]) -> str:
    """The markdown table of :meth:`Benchmark.results`: a row per model and set, then the
    pooled EER of each model.

    Example
    -------
    >>> cell = {"estimate": 1.0, "low": 0.5, "high": 1.5}
    >>> table = {"m": {"sets": {"s": {"title": "S", "trials": 4, "eer": cell, "min_dcf": cell,
    ...          "act_dcf": cell, "cllr": cell}}, "pooled_eer": 1.0}}
    >>> print(benchmark_markdown(table).splitlines()[2])
    | m | S | 4 | 1.00 [0.50, 1.50] | 1.0000 [0.5000, 1.5000] | 1.0000 [0.5000, 1.5000] | 1.0000 [0.5000, 1.5000] |
    """  # noqa: E501
    header = ["Model", "Test set", "Trials", *(name for name, _, _ in METRICS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, entry in table.items():
        for row in entry["sets"].values():
            cells = [f"{row[key]['estimate']:.{digits}f} [{row[key]['low']:.{digits}f}, "
                     f"{row[key]['high']:.{digits}f}]" for _, key, digits in METRICS]
            lines.append("| " + " | ".join([model, row["title"], str(row["trials"]), *cells])
                         + " |")
    lines += ["", "| Model | Pooled EER (%) over all sets |", "|---|---|"]
    lines += [f"| {model} | {entry['pooled_eer']:.2f} |" for model, entry in table.items()]
    return "\n".join(lines) + "\n"
