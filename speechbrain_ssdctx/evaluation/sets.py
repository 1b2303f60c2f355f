"""Test sets named on a command line: a registry corpus, a labelled CSV or a folder.

:func:`resolve_test_sets` reads what ``ssdctx-bench --test`` and ``ssdctx-robustness --set``
take, the way the recipes and ``ssdctx-score`` name data:

- a corpus of the registry (``speechbrain_ssdctx.data.corpora``) with its data:
  ``2019LA=/data/LA``, ``InTheWild=/data/release_in_the_wild``; a bundled corpus by its
  name alone (``demo``). Its scored test sets are used (not its training sets);
- a labelled CSV (``path,label``, ``speechbrain_ssdctx.data.labelled``): ``mine.csv``;
- a folder with ``bonafide/`` and ``spoof/`` subfolders (their audio, searched
  recursively, labelled by the subfolder).

Each becomes one or more :class:`TestSet` (a manifest the corpus's preparer wrote, with
``ID``, ``wav`` and ``label`` columns).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from speechbrain_ssdctx.data.audio_files import find_audio
from speechbrain_ssdctx.data.corpora import CORPORA, get_corpus
from speechbrain_ssdctx.data.preparation import BONAFIDE, SPOOF, ProtocolError, read_manifest
from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = ["TestSet", "resolve_test_sets", "slug"]


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


def slug(text: str) -> str:
    """``text`` as a file name: runs of other characters than ``A-Za-z0-9._-`` as ``_``.

    Example
    -------
    >>> slug("my set/2024 (v2)")
    'my_set_2024_v2'
    """
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
    target = folder / f"{slug(path.resolve().name)}.csv"
    with atomic_open(target, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "label", "id"])
        for label, sub in classes.items():
            for audio in find_audio([sub]):
                utt = slug(str(Path(audio).resolve().relative_to(path.resolve()).with_suffix("")))
                writer.writerow([str(Path(audio).resolve()), label, utt])
    return target
