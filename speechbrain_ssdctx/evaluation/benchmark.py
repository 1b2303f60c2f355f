"""Benchmarks: several models scored on several test sets, in one resumable table.

A test set is a registry corpus with its data (``2019LA=/data/LA``), a bundled corpus
(``demo``), a labelled CSV or a folder with ``bonafide/`` and ``spoof/`` subfolders
(:func:`~speechbrain_ssdctx.evaluation.sets.resolve_test_sets`, which
``ssdctx-robustness --set`` reads too).

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

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.data.preparation import BONAFIDE, ProtocolError
from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_llr_metrics, bootstrap_metrics
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import ScoreWriter, read_score_file
from speechbrain_ssdctx.evaluation.sets import TestSet, resolve_test_sets, slug

__all__ = ["Benchmark", "TestSet", "benchmark_markdown", "resolve_test_sets"]

#: The metrics of the table, their JSON keys and digits.
METRICS = (("EER (%)", "eer", 2), ("minDCF", "min_dcf", 4), ("actDCF", "act_dcf", 4),
           ("Cllr", "cllr", 4))


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
        return self.folder / "scores" / slug(model) / f"{test_set.name}.txt"

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
