"""The model card (``README.md``) of an exported detector, HuggingFace conventions.

The card of a SpeechBrain model on the Hub: YAML front matter (library, licence, tags,
datasets and a ``model-index`` with the EER and min t-DCF of each test set), then how to
install and use the model (``SpoofDetector`` or SpeechBrain's ``foreign_class``), what its
score means, its training data and recipe, its results, intended use and limitations,
the security note on HyperPyYAML, and the licences. :func:`model_card` writes it;
``speechbrain_ssdctx.inference.export`` calls it for every exported folder.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import yaml

from speechbrain_ssdctx import __version__
from speechbrain_ssdctx.data.corpora import CORPORA, DEMO, find_set, get_corpus
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.report import primary_tdcf, results_markdown, set_title
from speechbrain_ssdctx.evaluation.scores import SCORE_MEANINGS
from speechbrain_ssdctx.inference.model_folder import INTERFACE_CLASS, INTERFACE_FILE
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.method.contract import ContractAdapter

#: The training data of the project's recipes, in words, and their dataset ids (from the
#: registry of corpora, ``speechbrain_ssdctx.data.corpora``).
DEMO_DATASET = (get_corpus(DEMO).dataset_name, get_corpus(DEMO).dataset)
DEMO_TRAINING_DATA = get_corpus(DEMO).training_data
ASVSPOOF_TRAINING_DATA = get_corpus("2019LA").training_data
ASVSPOOF5_TRAINING_DATA = get_corpus("ASVspoof5").training_data


@dataclass
class ModelCard:
    """What the model card says about the model beyond its settings.

    Arguments
    ---------
    name : str
        Model name (default: the export folder's name).
    repo_id : str
        The HuggingFace id it is shared under (``org/name``), for the usage snippets.
    license : str
        Licence identifier of the weights.
    training_data : str
        The training data, in words (runs of this project's recipes: filled in).
    datasets : list of str
        Dataset names or Hub ids for the front matter (idem).
    language : list of str
        Languages of the training speech (ISO 639-1).
    results : dict
        Results per test set in the format of the recipes' ``results.json``.
    demo : bool
        The run used the bundled demo corpus (sets are titled demo sets).
    recipe : str
        The recipe, in words (e.g. ``hparams/lcnn_inf_ini.yaml``).
    data_licence : str
        The training data's licence (default: from the registry of corpora, for the
        ``datasets`` it knows; else "not recorded").
    citation : str
        The publication to cite for the training data (default: idem).
    """

    name: str | None = None
    repo_id: str | None = None
    license: str = "apache-2.0"
    training_data: str | None = None
    datasets: list[str] | None = None
    language: list[str] = field(default_factory=lambda: ["en"])
    results: dict | None = None
    demo: bool = False
    recipe: str | None = None
    data_licence: str | None = None
    citation: str | None = None


@dataclass(frozen=True)
class PortableFile:
    """The ONNX or TorchScript file of an export, for the card's usage sections.

    Arguments
    ---------
    format : str
        ``"onnx"`` or ``"torchscript"``.
    file : str
        The graph's file name (``<name>.onnx`` or ``<name>.pt``).
    sidecar : str
        The settings file next to it (``<name>.json``).
    """

    format: str
    file: str
    sidecar: str


def model_card(
    card: ModelCard,
    settings: InferenceSettings,
    adapter: ContractAdapter,
    folder_name: str,
    ships_code: bool = False,
    portable: PortableFile | None = None,
) -> str:
    """The ``README.md`` model card (HuggingFace conventions for SpeechBrain models).

    Arguments
    ---------
    card : ModelCard
        What to say about the model.
    settings : InferenceSettings
        Its (completed) inference settings.
    adapter : ContractAdapter
        The exported detector (its class and size are described).
    folder_name : str
        Name of the exported folder (the default model name).
    ships_code : bool
        Whether the hyperparameters build code shipped in ``custom_interface.py`` (the
        user's own modules): loading then needs ``trust_remote_code``, and the card says so.
    portable : PortableFile, optional
        For an ONNX / TorchScript export: how to run that file instead of the folder.

    Returns
    -------
    str
    """
    name = card.name or folder_name
    source = card.repo_id or f"your-org/{name}"
    detector = type(adapter.detector).__name__
    n_params = sum(p.numel() for p in adapter.parameters())
    front = {
        "library_name": "speechbrain",
        "license": card.license,
        "language": list(card.language),
        "pipeline_tag": "audio-classification",
        "tags": ["speechbrain", "speechbrain-ssdctx", "anti-spoofing",
                 "synthetic-speech-detection", "audio-deepfake-detection", detector.lower()],
        "datasets": list(card.datasets or []),
        "metrics": ["eer"] + (["min-tdcf"] if _has_tdcf(card.results) else []),
    }
    if card.results:
        front["model-index"] = [{"name": name, "results": _model_index(card)}]
    window = settings.window_policy
    if window == "first":
        window += f" ({settings.window_samples} samples, repeat-padded)"
    elif window == "official":
        window += " (first 64,600 samples, repeat-padded, as the official AASIST code)"
    if settings.threshold is None:
        threshold = ("**0** (not calibrated: no development-set threshold was given at "
                     "export)")
    else:
        threshold = (f"**{settings.threshold:.6g}** (the equal error rate threshold on the "
                     "development set)")
    hub_note = "" if card.repo_id else (
        f"\n`{source}` stands for the Hub id this folder is uploaded to; the path of the "
        "folder works too.\n")
    results = (results_markdown(card.results, card.demo).strip() if card.results
               else "No evaluation results were given at export.")
    polarity = ("" if settings.bonafide_index == 1 else
                " The detector was trained with bona fide at logit index 0; the exported "
                "model reorders its logits, so scores still mean higher = bona fide.")
    if portable is not None:
        front["tags"].append(portable.format)
        usage = portable_usage(portable, settings)
        security = PORTABLE_SECURITY[portable.format].format(file=portable.file)
    else:
        usage = FOLDER_USAGE.format(
            source=source, hub_note=hub_note, interface=INTERFACE_FILE, classname=INTERFACE_CLASS,
            trust_arg=", trust_remote_code=True" if ships_code else "",
            trust_flag=" --trust-remote-code" if ships_code else "",
            code_note=CODE_NOTE.format(interface=INTERFACE_FILE) if ships_code else "",
        )
        security = FOLDER_SECURITY.format(interface=INTERFACE_FILE)
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n" + \
        MODEL_CARD.format(
            name=name, usage=usage, security=security, detector=detector,
            as_run="" if portable else "; the hyperparameters as run are in "
            "`training_hyperparams.yaml`",
            n_params=f"{n_params:,}",
            training_data=card.training_data or "not described at export",
            recipe=f"`{card.recipe}`" if card.recipe else "not recorded",
            results=results, threshold=threshold,
            calibration=_calibration_note(settings.calibration),
            score_meaning=SCORE_MEANINGS[settings.score_type], polarity=polarity,
            sample_rate=settings.sample_rate, window=window, license=card.license,
            data_licence=data_licence_note(card),
            version=__version__,
        )


#: What the card says when the model ships its own Python code.
CODE_NOTE = (
    "\nThis model builds classes shipped in `{interface}` (its authors' own Python "
    "modules), which runs when the model loads: read that file first; the loaders refuse "
    "it without `trust_remote_code=True` / `--trust-remote-code`.\n"
)


def portable_usage(portable: PortableFile, settings: InferenceSettings) -> str:
    """The card's install and use sections for an ONNX / TorchScript file.

    Example
    -------
    >>> settings = InferenceSettings(window_policy="official", score_type="bonafide_logit")
    >>> text = portable_usage(PortableFile("onnx", "aasist.onnx", "aasist.json"),
    ...                       settings.completed())
    >>> "np.resize(wav, 64600)" in text, "score = logits[1]" in text
    (True, True)
    """
    policy = settings.window_policy
    if policy in ("official", "first"):
        size = 64600 if policy == "official" else settings.window_samples
        window = f"window = np.resize(wav, {size})  # the first {size} samples, repeat-padded"
    else:
        window = ("window = wav  # the whole file; PortableSpoofDetector also slides windows "
                  "over long files")
    score = "logits[1]" if settings.score_type == "bonafide_logit" else "logits[1] - logits[0]"
    run = PORTABLE_RUN[portable.format]
    return PORTABLE_USAGE.format(
        file=portable.file, sidecar=portable.sidecar, what=PORTABLE_NAMES[portable.format],
        sample_rate=settings.sample_rate, window=window, score=score,
        load=run[0].format(file=portable.file), logits=run[1], package=run[2],
    )


def data_licence_note(card: ModelCard) -> str:
    """The card's sentence on the training data's licence and citation.

    The user's ``data_licence`` and ``citation`` win; what they leave out comes from the
    corpora of the registry (:mod:`speechbrain_ssdctx.data.corpora`) that ``datasets``
    names (by dataset id or registry name). Data the registry does not know gets no
    licence of another corpus.

    Example
    -------
    >>> data_licence_note(ModelCard(datasets=["my-calls"], data_licence="CC-BY-4.0"))
    'CC-BY-4.0'
    >>> data_licence_note(ModelCard(datasets=["my-calls"]))
    'not recorded at export (see the terms of the training data)'
    """
    known = [corpus for corpus in CORPORA.values()
             if corpus.dataset in (card.datasets or ()) or corpus.name in (card.datasets or ())]
    licence = card.data_licence or "; ".join(
        dict.fromkeys(corpus.licence for corpus in known if corpus.licence))
    citation = card.citation or "; ".join(
        dict.fromkeys(corpus.citation for corpus in known if corpus.citation))
    licence = licence or "not recorded at export (see the terms of the training data)"
    return f"{licence}; cite {citation}" if citation else licence


def _calibration_note(calibration: Calibration | None) -> str:
    """The model card's paragraph on the stored calibration (empty without one)."""
    if calibration is None:
        return ""
    return (
        f"\nThe model also stores a score calibration: `llr = {calibration.slope:.6g} * score "
        f"+ {calibration.offset:.6g}` is a natural-log likelihood ratio. `classify_file` "
        "returns it, the posterior probability of bona fide at the prior of the decision "
        "costs, and the Bayes decision for those costs (default: ASVspoof 5 Track 1, Pspoof "
        "0.05, Cmiss 1, Cfa 10). It holds for data like the development set; recalibrate on "
        "your own data with `ssdctx-calibrate`.\n"
    )


def _has_tdcf(results) -> bool:
    return any(primary_tdcf(report)[0] is not None for report in (results or {}).values())


def _model_index(card: ModelCard) -> list[dict]:
    """One model-index entry per test set (EER in %, and the primary min t-DCF)."""
    entries = []
    for name, report in card.results.items():
        if card.demo:
            dataset_name, dataset_type = DEMO_DATASET
            config, split = None, set_title(name, True).split()[-1]
        else:
            dataset_name, dataset_type, config, split = _dataset(name)
        dataset = {"name": f"{dataset_name} ({split})", "type": dataset_type, "split": split}
        if config:
            dataset["config"] = config
        metrics = [{"type": "eer", "value": round(float(report["eer"]), 4),
                    "name": "EER (%)"}]
        tdcf = primary_tdcf(report)[0]
        if tdcf is not None and math.isfinite(tdcf):
            metrics.append({"type": "min-tdcf", "value": round(float(tdcf), 4),
                            "name": "min t-DCF"})
        entries.append({
            "task": {"type": "audio-classification", "name": "Synthetic speech detection"},
            "dataset": dataset,
            "metrics": metrics,
        })
    return entries


def _dataset(name: str) -> tuple[str, str, str | None, str]:
    """The model-index dataset of a set: name, id, config and split (from the registry)."""
    found = find_set(name)
    if found is None:
        return name, name, None, "test"
    corpus, corpus_set = found
    return corpus.dataset_name, corpus.dataset, corpus.config, corpus_set.split


MODEL_CARD = """
# {name}

A synthetic speech detector (anti-spoofing): it tells bona fide (genuine human) speech
from speech made by text-to-speech or voice conversion. Detector: `{detector}`
({n_params} parameters), trained with speechbrain-ssdctx {version} (inter-frequency and
inter-instance context training for synthetic speech detection, a SpeechBrain plugin).

{usage}
Input: audio at any sample rate (resampled to {sample_rate} Hz), stereo is mixed down.
Window policy: {window}.

## What the score means

The score is {score_meaning}: higher means more likely genuine speech.{polarity} The
decision threshold stored with the model is {threshold}; a score at or above it is
classified bona fide. Scores on audio unlike the training data (other languages, codecs,
channels) shift: calibrate a threshold on your own data before trusting decisions.
{calibration}
## Training

- Data: {training_data}.
- Recipe: {recipe}{as_run}.

## Results

{results}

## Intended use and limitations

Research on spoofing countermeasures and screening of audio for synthetic speech. It
does not identify speakers and is not proof that audio is genuine: detectors miss unseen
generators and are sensitive to codecs, noise and channels. Do not use a single score as
the basis of decisions that affect people.

{security}
## Licence

Weights: {license}. Training data: {data_licence}.
"""

#: Install and use sections of a model folder's card.
FOLDER_USAGE = """## Install

```bash
pip install speechbrain-ssdctx
```

## Use

```python
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

detector = SpoofDetector.from_hparams("{source}"{trust_arg})
detector.classify_file("my_audio.wav")  # score, probability of bona fide, decision
```

or with SpeechBrain's own loader:

```python
from speechbrain.inference.interfaces import foreign_class

detector = foreign_class(source="{source}", pymodule_file="{interface}",
                         classname="{classname}")
detector.score_file("my_audio.wav")
```

or from a shell: `ssdctx-score --model {source}{trust_flag} my_audio_folder/ --out scores.txt`.
{hub_note}{code_note}"""

#: The security section of a model folder's card.
FOLDER_SECURITY = """## Security: HyperPyYAML runs code

`hyperparams.yaml` is HyperPyYAML: loading it imports and calls the Python objects it
names (`!new:`, `!name:`), and `{interface}` is Python code. Load models only from
sources you trust. The weights in `detector.ckpt` are read with
`torch.load(weights_only=True)`, which never unpickles arbitrary objects.
"""

#: The format's name in words.
PORTABLE_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}

#: How each format is loaded and run in the card's snippet, and the package it needs.
PORTABLE_RUN = {
    "onnx": ('session = onnxruntime.InferenceSession("{file}")',
             'logits = session.run(["logits"], {"wavs": window[None]})[0][0]',
             "onnxruntime"),
    "torchscript": ('graph = torch.jit.load("{file}")',
                    "logits = graph(torch.from_numpy(window)[None])[0].numpy()",
                    "torch"),
}

#: Install and use sections of an ONNX / TorchScript export's card.
PORTABLE_USAGE = """## Install

```bash
pip install "speechbrain-ssdctx[onnx]"   # or only {package}: see below
```

## Use

`{file}` is the detector as one {what} graph, front end included: `wavs` (float32
`[batch, time]` at {sample_rate} Hz) to `logits` (`[batch, 2]`, index 1 = bona fide), any
batch size and length. `{sidecar}` holds how files are scored: window policy, score
type, threshold (and calibration, if any). Scored with those settings:

```python
from speechbrain_ssdctx.inference.portable_detector import PortableSpoofDetector

detector = PortableSpoofDetector.from_file("{file}")
detector.score_file("my_audio.wav")  # higher = more likely bona fide
```

or from a shell: `ssdctx-score --model {file} my_audio_folder/ --out scores.txt`.

With {package} alone (mono audio at {sample_rate} Hz):

```python
import numpy as np, soundfile, {package}

{load}
wav, rate = soundfile.read("my_audio.wav", dtype="float32")
{window}
{logits}
score = {score}
```
"""

#: The security section of an ONNX / TorchScript export's card.
PORTABLE_SECURITY = {
    "onnx": """## Security

`{file}` is a graph of standard ONNX operators and its weights: loading it runs no Python
code.
""",
    "torchscript": """## Security

`torch.jit.load` runs the TorchScript program stored in `{file}` (TorchScript operators,
not arbitrary Python). Load files only from sources you trust.
""",
}
