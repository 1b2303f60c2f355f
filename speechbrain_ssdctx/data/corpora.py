"""The registry of corpora: one record per corpus, read by every step that names one.

A :class:`Corpus` says what the project needs to know about a corpus: its name (a
``recipes/prepare_asvspoof.py`` choice), its title in reports, its dataset id and licence
for model cards, the hyperparameter that points to its data, its preparer and the sets it
makes (manifest names and titles), its key formats (what ``read_key`` reads), its role
(training, testing or both) and whether its audio is resampled. The recipe steps
(``speechbrain_ssdctx.training.experiment``), the typed hyperparameters, the reports, the
model card, ``read_key``, ``ssdctx-eval`` and ``recipes/prepare_asvspoof.py`` loop over
:data:`CORPORA` instead of naming corpora; :func:`register_corpus` adds one of your own.

Which corpus trains: the last corpus of the registry that can train and whose
hyperparameter is given (ASVspoof 5 replaces ASVspoof 2019 LA, which then is a test
corpus; MLAAD replaces both), else the bundled demo corpus (:data:`DEMO`). Several
corpora train together through the recipes' ``train_corpora``
(``speechbrain_ssdctx.data.mixture``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from speechbrain_ssdctx.data.asvspoof import (
    prepare_asvspoof2019_la,
    prepare_asvspoof2021,
    read_protocol_2019,
    read_trial_metadata_2021,
)
from speechbrain_ssdctx.data.asvspoof5 import (
    prepare_asvspoof5,
    read_cm_key,
    read_protocol_asvspoof5,
    read_sasv_key,
)
from speechbrain_ssdctx.data.in_the_wild import prepare_in_the_wild, read_in_the_wild_meta
from speechbrain_ssdctx.data.labelled import prepare_labelled_csv, read_labelled_csv
from speechbrain_ssdctx.data.mlaad import prepare_mlaad
from speechbrain_ssdctx.data.preparation import BONAFIDE, SPOOF

__all__ = [
    "CORPORA",
    "DEMO",
    "ROLES",
    "Corpus",
    "CorpusSet",
    "KeyFormat",
    "corpus_inputs",
    "find_set",
    "get_corpus",
    "register_corpus",
    "training_corpus",
]

#: What a corpus is for: training (its train and dev sets), testing, or both.
ROLES = ("train", "test", "both")
#: Name of the bundled demo corpus: it trains when no training corpus is given.
DEMO = "demo"


@dataclass(frozen=True)
class KeyFormat:
    """A format of key (labels) file, as ``read_key`` tells it apart from the others.

    Arguments
    ---------
    kind : str
        The name ``read_key`` returns for it (e.g. ``"in_the_wild"``).
    description : str
        What it is, in words (e.g. ``"In-the-Wild meta.csv"``).
    reader : callable
        ``reader(path) -> list of dict``: one row per trial (``ID``, ``label``, ...).
        ``path`` is the key's path, or for a pipe or stdin the ``TextInput`` holding its
        text (``speechbrain_ssdctx.utils.textio``: read it with ``read_lines``).
    matches : callable
        ``matches(fields, track) -> bool``: whether a key is in this format, from its
        first line (a CSV: its lower-cased column names; other files: its whitespace
        fields) and the 2021 track the caller names (``None``: guess).
    csv : bool
        A ``.csv`` file (told by its header) rather than any other file.
    header : bool
        The first line is a header: such formats are tried before headerless ones.
    hint : str
        For a CSV format, the header it needs, in words (``read_key``'s error message).

    Example
    -------
    >>> key = get_corpus("InTheWild").key_formats[0]
    >>> key.kind, key.matches(["file", "speaker", "label"], None)
    ('in_the_wild', True)
    """

    kind: str
    description: str
    reader: Callable[[Path], list[dict[str, str]]]
    matches: Callable[[list[str], str | None], bool]
    csv: bool = False
    header: bool = False
    hint: str = ""


@dataclass(frozen=True)
class CorpusSet:
    """One manifest a corpus's preparer writes, under the name the recipes give it.

    Arguments
    ---------
    name : str
        The recipes' name of the set: the key of ``prepare_manifests``, of
        ``results.json`` and of ``scores/<name>.txt`` (e.g. ``"2019LA_eval"``).
    split : str
        The preparer's output it is (e.g. ``"eval"``); also the split of the model card's
        model-index.
    title : str, optional
        Its title in reports (default: the corpus's title).
    training : bool
        Prepared only when the corpus trains (``train``, ``dev``).
    scored : bool
        Scored and reported (False: the training data, the organisers' ASV scores).

    Example
    -------
    >>> CorpusSet("2019LA_eval", "eval", "2019 LA eval").training
    False
    """

    name: str
    split: str
    title: str | None = None
    training: bool = False
    scored: bool = True


@dataclass(frozen=True)
class Corpus:
    """What the project knows about a corpus.

    Arguments
    ---------
    name : str
        Its registry name, the ``recipes/prepare_asvspoof.py`` choice (e.g. ``"InTheWild"``).
    title : str
        Its title in reports (sets without their own title use it).
    dataset : str
        Its dataset id in model cards (e.g. ``"in-the-wild"``).
    dataset_name : str
        Its name in the model card's model-index (e.g. ``"ASVspoof 2019 LA"``).
    preparer : callable
        ``preparer(source, save_folder, skip_missing=..., check_headers=..., **options)``:
        writes the manifests and returns them (a dict of split to path, or one path: the
        corpus's only split).
    sets : tuple of CorpusSet
        The manifests it makes, with the recipes' names for them. A corpus prepared per
        file (``per_file``) has one, whose name is not used.
    role : str
        ``"train"``, ``"test"`` or ``"both"`` (:data:`ROLES`).
    hparam : str, optional
        The recipe hyperparameter that points to its data (e.g. ``"in_the_wild_folder"``);
        None: no hyperparameter (the demo corpus, bundled: see ``folder``).
    options : Mapping of str to str
        Further preparer arguments and the hyperparameters that hold them (an existing
        file or folder, or null), e.g. ``{"keys_folder": "la2021_keys"}``.
    per_file : bool
        ``hparam`` holds a list of files, each prepared as one set named
        ``<name>_<file stem>`` and titled by the stem (labelled CSVs).
    folder : callable, optional
        Where the data is without a hyperparameter (the bundled demo corpus).
    key_formats : tuple of KeyFormat
        The key files of the corpus that ``read_key`` reads.
    resample : bool
        Its audio is read at its own sample rate and resampled (corpora other than
        ASVspoof); False: a file not at the recipe's rate is an error.
    official_c012 : bool
        Its min t-DCF uses the official 2021 LA C012 coefficients (bundled).
    licence : str
        The data's licence, as the model card states it (empty: not recorded here).
    citation : str
        The publication to cite for the data.
    config : str, optional
        The model card's dataset config (e.g. ``"LA"``).
    training_data : str
        The training data, in words, for the model card of a model it trained.

    Example
    -------
    >>> wild = get_corpus("InTheWild")
    >>> wild.hparam, wild.role, wild.resample, wild.set_title(wild.sets[0])
    ('in_the_wild_folder', 'test', True, 'In-the-Wild')
    """

    name: str
    title: str
    dataset: str
    dataset_name: str
    preparer: Callable[..., Path | Mapping[str, Path]]
    sets: tuple[CorpusSet, ...]
    role: str = "test"
    hparam: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    per_file: bool = False
    folder: Callable[[], Path] | None = None
    key_formats: tuple[KeyFormat, ...] = ()
    resample: bool = False
    official_c012: bool = False
    licence: str = ""
    citation: str = ""
    config: str | None = None
    training_data: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Corpus {self.name!r}: role {self.role!r} is not one of {ROLES}.")
        if not self.sets:
            raise ValueError(f"Corpus {self.name!r} makes no set.")
        if self.hparam is None and self.folder is None:
            raise ValueError(f"Corpus {self.name!r} needs a hparam or a bundled folder.")

    @property
    def trains(self) -> bool:
        """Whether it can be the training corpus (role ``train`` or ``both``)."""
        return self.role != "test"

    @property
    def licence_note(self) -> str:
        """The licence and what to cite, in one sentence (for model cards)."""
        return f"{self.licence}; cite {self.citation}" if self.citation else self.licence

    def set_title(self, corpus_set: CorpusSet) -> str:
        """The title of one of its sets in reports."""
        return corpus_set.title or self.title

    def prepare(self, source, save_folder, **options) -> dict[str, Path]:
        """Runs the preparer on ``source``; returns its manifests by split.

        Arguments
        ---------
        source : str or path-like
            The data folder (or file, for ``per_file`` corpora).
        save_folder : str or path-like
            Where the manifests go.
        **options
            Preparer arguments (``skip_missing``, ``check_headers``, ``options``' keys).
        """
        outputs = self.preparer(source, save_folder, **options)
        if isinstance(outputs, Mapping):
            return dict(outputs)
        return {self.sets[0].split: Path(outputs)}

    def manifests(self, outputs: Mapping[str, Path], source, training: bool) -> dict[str, Path]:
        """The prepared ``outputs`` under the recipes' set names.

        Arguments
        ---------
        outputs : Mapping of str to Path
            What :meth:`prepare` returned.
        source : str or path-like
            What was prepared (a ``per_file`` set is named after its file).
        training : bool
            Whether the corpus trains (else its ``training`` sets are left out).

        Example
        -------
        >>> labelled = get_corpus("labelled")
        >>> labelled.manifests({"test": Path("out/labelled_mine.csv")}, "own/mine.csv", False)
        {'labelled_mine': PosixPath('out/labelled_mine.csv')}
        """
        if self.per_file:
            return {self.file_set_name(source): outputs[self.sets[0].split]}
        return {s.name: outputs[s.split] for s in self.sets
                if s.split in outputs and (training or not s.training)}

    def file_set_name(self, source) -> str:
        """The set name of one file of a ``per_file`` corpus: ``<name>_<stem>``."""
        return f"{self.name}_{Path(source).stem}"


#: The registry, by name, in the order reports list their sets and ``read_key`` tries
#: their key formats (header formats first).
CORPORA: dict[str, Corpus] = {}


def register_corpus(corpus: Corpus) -> Corpus:
    """Adds a corpus to :data:`CORPORA` (after the others); returns it.

    Example
    -------
    >>> mine = Corpus("MyCorpus", "my corpus", "my-corpus", "My corpus",
    ...               preparer=prepare_labelled_csv, sets=(CorpusSet("MyCorpus", "test"),),
    ...               hparam="my_corpus_folder")
    >>> register_corpus(mine) is get_corpus("MyCorpus")
    True
    >>> del CORPORA["MyCorpus"]
    """
    if corpus.name in CORPORA:
        raise ValueError(f"A corpus named {corpus.name!r} is registered already.")
    kinds = {key.kind for known in CORPORA.values() for key in known.key_formats}
    clash = kinds.intersection(key.kind for key in corpus.key_formats)
    if clash:
        raise ValueError(f"Corpus {corpus.name!r}: key kind(s) {sorted(clash)} exist already.")
    CORPORA[corpus.name] = corpus
    return corpus


def get_corpus(name: str) -> Corpus:
    """The registered corpus named ``name``.

    Example
    -------
    >>> get_corpus("2021LA").dataset
    'asvspoof2021'
    """
    try:
        return CORPORA[name]
    except KeyError:
        raise KeyError(f"No corpus named {name!r}; registered: {', '.join(CORPORA)}.") from None


def training_corpus(hparams: Mapping) -> Corpus:
    """The corpus a run trains on: the last trainable one whose hyperparameter is given,
    else the bundled demo corpus.

    Example
    -------
    >>> training_corpus({"data_folder": "/data/LA", "asvspoof5_folder": "/data/5"}).name
    'ASVspoof5'
    >>> training_corpus({"data_folder": None}).name
    'demo'
    """
    given = [c for c in CORPORA.values()
             if c.trains and c.hparam is not None and hparams.get(c.hparam) is not None]
    return given[-1] if given else get_corpus(DEMO)


def corpus_inputs(hparams: Mapping) -> Iterator[tuple[Corpus, object, bool]]:
    """What a run prepares: ``(corpus, source, training)``, the training corpus first.

    Then every other corpus that can test, in registry order, once per source its
    hyperparameter gives (one folder, or each file of a ``per_file`` corpus).

    Example
    -------
    >>> [(c.name, s, t) for c, s, t in corpus_inputs(
    ...     {"data_folder": "/data/LA", "in_the_wild_folder": "/data/w", "test_csvs": []})]
    [('2019LA', '/data/LA', True), ('InTheWild', '/data/w', False)]
    """
    trained = training_corpus(hparams)
    yield trained, _source(trained, hparams), True
    for corpus in CORPORA.values():
        if corpus is trained or corpus.role == "train" or corpus.hparam is None:
            continue
        value = hparams.get(corpus.hparam)
        for source in (value or []) if corpus.per_file else [value]:
            if source is not None:
                yield corpus, source, False


def _source(corpus: Corpus, hparams: Mapping):
    if corpus.hparam is not None and hparams.get(corpus.hparam) is not None:
        return hparams[corpus.hparam]
    return corpus.folder()


def find_set(
    name: str, first: Corpus | None = None, per_file: bool = False
) -> tuple[Corpus, CorpusSet] | None:
    """The corpus and set a scored set name belongs to (None: no registered corpus's).

    Arguments
    ---------
    name : str
        The set name (e.g. ``"InTheWild"``).
    first : Corpus, optional
        Looked at before the registry (the run's training corpus, which owns ``dev``).
    per_file : bool
        Also match the names of ``per_file`` sets (``labelled_<stem>``).

    Example
    -------
    >>> corpus, found = find_set("dev")
    >>> corpus.name, corpus.set_title(found)
    ('2019LA', '2019 LA dev')
    >>> find_set("dev", first=get_corpus(DEMO))[1].title
    'demo dev'
    """
    corpora = ([first] if first is not None else []) + list(CORPORA.values())
    for corpus in corpora:
        if corpus.per_file:
            if per_file and name.startswith(f"{corpus.name}_"):
                return corpus, CorpusSet(name, corpus.sets[0].split, name[len(corpus.name) + 1:])
            continue
        found = next((s for s in corpus.sets if s.name == name and s.scored), None)
        if found is not None:
            return corpus, found
    return None


# ---- the project's corpora ------------------------------------------------------------------

_LABELS = (BONAFIDE, SPOOF)


def _is_in_the_wild(fields: list[str], track: str | None) -> bool:
    return fields[:3] == ["file", "speaker", "label"]


def _is_labelled(fields: list[str], track: str | None) -> bool:
    return "path" in fields and "label" in fields


def _is_protocol_2019(fields: list[str], track: str | None) -> bool:
    return track is None and len(fields) == 5


def _is_metadata_2021(fields: list[str], track: str | None, own: str) -> bool:
    """The 2021 key of track ``own``: named by ``track``, else 8 fields (LA) or 9 and more
    (DF; with the key in field 6 if 9 or 10, the field count of ASVspoof 5 protocols)."""
    if track is not None:
        return track == own
    if own == "LA":
        return len(fields) == 8
    return len(fields) > 10 or (len(fields) >= 9 and fields[5] in _LABELS)


def _is_protocol_asvspoof5(fields: list[str], track: str | None) -> bool:
    return track is None and len(fields) in (9, 10) and fields[8] in _LABELS


def _is_cm_key(fields: list[str], track: str | None) -> bool:
    lowered = [name.lower() for name in fields]
    return "cm-label" in lowered and "asv-label" not in lowered


def _is_sasv_key(fields: list[str], track: str | None) -> bool:
    lowered = [name.lower() for name in fields]
    return "cm-label" in lowered and "asv-label" in lowered


def _demo_folder() -> Path:
    """The ``LA`` folder of the bundled demo corpus (ASVspoof 2019 LA layout)."""
    return Path(__file__).resolve().parent / "demo" / "LA"


def _asvspoof2019_sets(title: str) -> tuple[CorpusSet, ...]:
    """The sets of ASVspoof 2019 LA (or of a corpus in its layout) titled ``<title> dev``..."""
    return (
        CorpusSet("train", "train", training=True, scored=False),
        CorpusSet("dev", "dev", f"{title} dev", training=True),
        CorpusSet("asv_dev", "asv_dev", training=True, scored=False),
        CorpusSet("asv_eval", "asv_eval", scored=False),
        CorpusSet("2019LA_eval", "eval", f"{title} eval"),
    )


def _asvspoof2021(track: str) -> Corpus:
    lower = track.lower()
    return Corpus(
        name=f"2021{track}", title=f"2021 {track}", dataset="asvspoof2021",
        dataset_name=f"ASVspoof 2021 {track}", config=track,
        preparer=partial(prepare_asvspoof2021, track=track),
        sets=(CorpusSet(f"2021{track}_eval", "eval", f"2021 {track} eval"),),
        hparam=f"{lower}2021_folder", options={"keys_folder": f"{lower}2021_keys"},
        key_formats=(KeyFormat(
            f"2021{track}", f"ASVspoof 2021 {track} key",
            partial(read_trial_metadata_2021, track=track),
            partial(_is_metadata_2021, own=track)),),
        official_c012=track == "LA", licence="ASVspoof 2021: ODC-By 1.0",
        citation='Liu et al., 2023, "ASVspoof 2021: Towards spoofed and deepfake speech '
        'detection in the wild"',
    )


for _corpus in (
    Corpus(
        name="2019LA", title="2019 LA", dataset="asvspoof2019",
        dataset_name="ASVspoof 2019 LA", config="LA", preparer=prepare_asvspoof2019_la,
        sets=_asvspoof2019_sets("2019 LA"),
        role="both", hparam="data_folder",
        key_formats=(KeyFormat("2019", "ASVspoof 2019 CM protocol", read_protocol_2019,
                               _is_protocol_2019),),
        licence="ASVspoof 2019: ODC-By 1.0",
        citation='Wang et al., 2020, "ASVspoof 2019: a large-scale public database of '
        'synthesized, converted and replayed speech"',
        training_data="ASVspoof 2019 LA, training partition",
    ),
    _asvspoof2021("LA"),
    _asvspoof2021("DF"),
    Corpus(
        name="ASVspoof5", title="ASVspoof 5", dataset="asvspoof5", dataset_name="ASVspoof 5",
        preparer=prepare_asvspoof5,
        sets=(CorpusSet("train", "train", training=True, scored=False),
              CorpusSet("dev", "dev", "ASVspoof 5 dev", training=True),
              CorpusSet("ASVspoof5_eval", "eval", "ASVspoof 5 eval")),
        role="both", hparam="asvspoof5_folder",
        key_formats=(
            KeyFormat("asvspoof5", "ASVspoof 5 protocol", read_protocol_asvspoof5,
                      _is_protocol_asvspoof5),
            KeyFormat("asvspoof5_cm", "ASVspoof 5 Track 1 key", read_cm_key, _is_cm_key,
                      header=True),
            KeyFormat("sasv", "ASVspoof 5 Track 2 key", read_sasv_key, _is_sasv_key,
                      header=True),
        ),
        citation='Wang et al., 2024, "ASVspoof 5: crowdsourced speech data, deepfakes, and '
        'adversarial attacks at scale"',
        training_data="ASVspoof 5, training set",
    ),
    Corpus(
        name="InTheWild", title="In-the-Wild", dataset="in-the-wild",
        dataset_name="In-the-Wild", preparer=prepare_in_the_wild,
        sets=(CorpusSet("InTheWild", "test"),), hparam="in_the_wild_folder",
        key_formats=(KeyFormat("in_the_wild", "In-the-Wild meta.csv", read_in_the_wild_meta,
                               _is_in_the_wild, csv=True, header=True,
                               hint="of In-the-Wild (file,speaker,label)"),),
        resample=True,
        citation='Müller et al., 2022, "Does audio deepfake detection generalize?"',
    ),
    # After the ASVspoof corpora: given, it trains (they are then test corpora).
    Corpus(
        name="MLAAD", title="MLAAD", dataset="mlaad", dataset_name="MLAAD",
        preparer=prepare_mlaad,
        sets=(CorpusSet("train", "train", training=True, scored=False),
              CorpusSet("dev", "dev", "MLAAD dev", training=True),
              CorpusSet("MLAAD_eval", "eval", "MLAAD eval")),
        role="both", hparam="mlaad_folder", options={"mailabs_folder": "mailabs_folder"},
        resample=True,
        # The dataset card (huggingface.co/datasets/mueller91/MLAAD): "strictly for
        # non-commercial academic research use, under the CC-BY-NC 4.0 license".
        licence="MLAAD: CC BY-NC 4.0 (non-commercial academic research only); M-AILABS "
        "(bona fide): its own licence",
        citation='Müller et al., 2024, "MLAAD: The Multi-Language Audio Anti-Spoofing '
        'Dataset"; bona fide: the M-AILABS Speech Dataset (Solak, 2019)',
        training_data="MLAAD (spoofs, by TTS model) and M-AILABS (bona fide, by speaker), "
        "training split",
    ),
    Corpus(
        name="labelled", title="labelled CSV", dataset="labelled", dataset_name="labelled CSV",
        preparer=prepare_labelled_csv, sets=(CorpusSet("labelled", "test"),),
        hparam="test_csvs", per_file=True,
        key_formats=(KeyFormat("labelled", "labelled CSV (path,label)", read_labelled_csv,
                               _is_labelled, csv=True, header=True,
                               hint="of a labelled CSV (path,label)"),),
        resample=True,
    ),
    Corpus(
        name=DEMO, title="demo", dataset="speechbrain-ssdctx-demo",
        dataset_name="speechbrain-ssdctx demo corpus", preparer=prepare_asvspoof2019_la,
        sets=_asvspoof2019_sets("demo"),
        role="train", folder=_demo_folder,
        licence="the speechbrain-ssdctx demo corpus is built from openly licensed "
        "recordings; see its NOTICE.md and sources.tsv in the speechbrain-ssdctx package for "
        "each one",
        training_data="the speechbrain-ssdctx demo corpus (52 training utterances of about "
        "3 s: bona fide English read speech and its vocoded or synthesised counterparts): a "
        "check that the pipeline learns, not a benchmark",
    ),
):
    register_corpus(_corpus)
del _corpus

