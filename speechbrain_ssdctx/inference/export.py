"""Export a trained detector from any recipe as a shareable model folder.

Three ways in, from the most specific to the most general:

- :func:`export_model`: a run of this project's recipes (``recipes/train.py``): its
  output folder holds the hyperparameters as run, the checkpoints and ``results.json``;
- :func:`export_from_hparams`: any SpeechBrain recipe: its hyperparameters YAML (the
  recipe file with the run's overrides, or the copy SpeechBrain writes into the output
  folder) and a checkpoint folder; the detector is restored through the recipe's own
  Checkpointer recoverables;
- :func:`export_detector`: live modules (a trained detector in a Python session) and
  the YAML that defines it.

The definition of the detector is copied, not rebuilt: when the training YAML pulls the
detector in from a block file (``model: !include:models/lcnn.yaml``), the block, with the
values as trained, is what the exported ``hyperparams.yaml`` holds; otherwise the
detector's own node (see :func:`detector_definition`).

The exported folder loads offline with ``SpoofDetector.from_hparams(<folder or Hub id>)``
and with SpeechBrain's ``foreign_class(source, pymodule_file="custom_interface.py",
classname="SpoofDetector")``. It holds:

- ``hyperparams.yaml`` (written by ruamel.yaml): the detector's definition, the inference
  settings (:class:`~speechbrain_ssdctx.inference.settings.InferenceSettings`: sample rate,
  window policy, score type, decision threshold, the bona fide index the detector was
  trained with...), the detector wrapped in
  :class:`~speechbrain_ssdctx.method.contract.ContractAdapter` (so that scores mean "higher =
  bona fide" whatever the training polarity and output shapes) and a ``Pretrainer``
  without paths;
- ``detector.ckpt``: the adapter's state_dict, which includes the state SpeechBrain
  modules save through checkpoint hooks (``InputNormalization`` statistics);
- ``custom_interface.py``: the interface for ``foreign_class``, with the code of the
  user's own modules when a detector needs them;
- ``training_hyperparams.yaml``: the hyperparameters as run (local paths redacted);
- ``README.md``: a model card following the HuggingFace conventions for SpeechBrain
  models (``speechbrain_ssdctx.inference.model_card``).

Before returning, the export loads the folder back and checks that it scores like the
detector it was given. ``speechbrain_ssdctx.inference.hub.push_to_hub`` uploads the folder.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.metadata
import importlib.util
import io
import json
import os
import pathlib
import pydoc
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace

import ruamel.yaml
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references
from ruamel.yaml.comments import CommentedMap, TaggedScalar
from ruamel.yaml.tag import Tag
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ssdctx import __version__
from speechbrain_ssdctx.data.corpora import DEMO, training_corpus
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.scores import DEFAULT_SCORE_TYPE
from speechbrain_ssdctx.inference.carried_ssl import MODEL_FOLDER_KEY, carry_ssl_models
from speechbrain_ssdctx.inference.export_folder import (
    ExportError,
    check_destination,
    staged_export,
    weights_sha256,
)
from speechbrain_ssdctx.inference.model_card import ModelCard, model_card
from speechbrain_ssdctx.inference.model_folder import (
    INTERFACE_CLASS,
    INTERFACE_FILE,
    INTERFACE_MODULE,
)
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector
from speechbrain_ssdctx.inference.trust import (
    MODEL_POLICY,
    RUN_POLICY,
    check_hparams,
    untrusted_tags,
)
from speechbrain_ssdctx.method.contract import ContractAdapter
from speechbrain_ssdctx.training.checkpoints import AVERAGED_KEY
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams

#: Keys the export writes into ``hyperparams.yaml`` besides the detector's definition.
INFERENCE_KEYS = (
    *(setting.name for setting in fields(InferenceSettings)), "scorer", "modules", "pretrainer",
    "weights_sha256", MODEL_FOLDER_KEY,
)


@dataclass
class DetectorDefinition:
    """The YAML that builds a detector on its own.

    Arguments
    ---------
    text : str
        HyperPyYAML text; loading it builds the detector under ``key``.
    key : str
        The key of the detector in ``text``.
    """

    text: str
    key: str = "detector"


def detector_definition(
    hparams_file: str | os.PathLike, overrides: dict | None = None, key: str = "detector"
) -> DetectorDefinition:
    """The definition of the detector of a training YAML, with the run's values.

    The YAML is resolved with HyperPyYAML (overrides applied, references and
    ``!include:`` blocks resolved, nothing built). When the detector sits in a
    top-level block (a mapping holding it next to its plain parameters, which is what
    ``model: !include:models/lcnn.yaml`` gives), the whole block is the definition;
    otherwise the detector's own node (with copies of the nodes it refers to, without
    comments).

    Arguments
    ---------
    hparams_file : str or os.PathLike
        A training YAML (a recipe file, or the copy SpeechBrain writes as run).
    overrides : dict, optional
        The run's overrides.
    key : str
        The top-level key of the detector.

    Returns
    -------
    DetectorDefinition

    Example
    -------
    >>> definition = detector_definition("hparams/lcnn_inf_ini.yaml", {"n_mels": 32})
    >>> definition.key, "n_mels: 32" in definition.text
    ('detector', True)
    """
    try:
        text = resolve_references(open_hparams(hparams_file), overrides or {}).getvalue()
    except (OSError, ValueError, yaml.YAMLError, ruamel.yaml.YAMLError) as error:
        raise ExportError(f"Cannot read '{hparams_file}': {error}") from error
    tree = ruamel.yaml.YAML().load(text)
    if not isinstance(tree, dict) or key not in tree:
        raise ExportError(f"'{hparams_file}' defines no '{key}' (the detector)")
    node = tree[key]
    for name, block in tree.items():
        if name != key and isinstance(block, dict):
            inner = next((k for k, v in block.items() if v is node), None)
            if inner is not None and _is_block(block, node):
                _apply_inference_arguments(block, block)
                return DetectorDefinition(_dump(block), inner)
    # Out of its block, the node would carry the comments that ruamel attaches to its
    # last items (those of the following lines of the training YAML): drop them.
    _drop_comments(node)
    _apply_inference_arguments(node, {})
    return DetectorDefinition(_dump({key: node}), key)


def _apply_inference_arguments(node, block: dict) -> None:
    """Lets the classes of a definition rewrite their arguments for inference, in place.

    A ``!new:`` node whose class has a classmethod ``inference_arguments(arguments) ->
    arguments`` gets the arguments it returns: ``SSLEncoder`` replaces its pretrained
    source (a HuggingFace id or a local folder) by the model's configuration, so that the
    exported detector is built without a download and its weights come from the
    checkpoint. A plain string value of the ``block`` equal to a replaced string argument
    (the ``ssl_hub`` that fed it) is replaced too, so the export names no local path.
    """
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        _apply_inference_arguments(child, block)
    tag = getattr(getattr(node, "tag", None), "value", None) or ""
    hook = None
    if isinstance(node, dict) and tag.startswith("!new:"):
        hook = getattr(pydoc.locate(tag[len("!new:"):]), "inference_arguments", None)
    if not callable(hook):
        return
    arguments = hook(dict(node))
    for name, old in dict(node).items():
        if isinstance(old, str) and arguments.get(name) != old:
            for key, value in block.items():
                if value == old and _plain(value):
                    block[key] = arguments.get(name)
    node.clear()
    node.update(arguments)


def _drop_comments(node) -> None:
    if hasattr(node, "ca"):
        node.ca.items.clear()
        node.ca.comment = None
        node.ca.end = None
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        _drop_comments(child)


def _is_block(mapping: dict, detector) -> bool:
    """Whether every value of ``mapping`` is a plain value or part of the detector."""
    return all(
        value is detector or _contains(detector, value) or _plain(value)
        for value in mapping.values()
    )


def _plain(value) -> bool:
    """A scalar, or a list / mapping of plain values, without a HyperPyYAML tag."""
    if getattr(getattr(value, "tag", None), "value", None):
        return False
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return True


def _contains(tree, target) -> bool:
    """Whether ``target`` (a node, by identity) occurs inside ``tree``."""
    children = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else ()
    return any(child is target or _contains(child, target) for child in children)


def _dump(tree) -> str:
    stream = io.StringIO()
    ruamel.yaml.YAML().dump(tree, stream)
    return stream.getvalue()


def export_detector(
    detector: torch.nn.Module,
    definition: DetectorDefinition,
    out_dir: str | os.PathLike,
    settings: InferenceSettings | None = None,
    card: ModelCard | None = None,
    python_modules: Sequence[str | os.PathLike] = (),
    training_hyperparams: str = "",
    training_folders: Iterable[str | os.PathLike] = (),
) -> pathlib.Path:
    """Writes a model folder from a trained detector and the YAML that defines it.

    Arguments
    ---------
    detector : torch.nn.Module
        The trained detector (its state is what is exported).
    definition : DetectorDefinition
        The YAML that builds it (see :func:`detector_definition`).
    out_dir : str or os.PathLike
        The model folder to write: a new or empty folder, or an earlier export, which is
        replaced whole once the new export loads and scores like ``detector`` (see
        :mod:`~speechbrain_ssdctx.inference.export_folder`); any other folder is refused.
    settings : InferenceSettings, optional
        How the model scores (defaults: 16 kHz, full file, log-odds, bona fide = 1).
    card : ModelCard, optional
        What the model card says.
    python_modules : sequence of paths or module names
        The user's own modules the definition uses (``!new:custom_model.Xvector``):
        their code is shipped in ``custom_interface.py`` and the definition refers to it
        there. Each must be self-contained (no imports of each other).
    training_hyperparams : str
        The training hyperparameters as run, shipped with local paths redacted.
    training_folders : iterable of paths
        Folders the export must not write into (the training run's).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out_dir = pathlib.Path(out_dir)
    _refuse_training_folders(out_dir, training_folders)
    try:
        settings = (settings or InferenceSettings()).completed()
    except ValueError as error:
        raise ExportError(f"Inference settings: {error}") from None
    card = card or ModelCard()
    modules = _python_modules(python_modules)
    text = _ship_modules(definition.text, modules)
    _refuse_unshipped_modules(text)
    adapter = ContractAdapter(detector, settings.bonafide_index)
    with staged_export(out_dir) as staging:
        torch.save(adapter.state_dict(), staging / "detector.ckpt")
        tree = _yaml().load(text) or CommentedMap()
        try:
            carry_ssl_models(tree, detector, staging)
        except ValueError as error:
            raise ExportError(str(error)) from None
        hyperparams = _hyperparams(_dump(tree), definition.key, settings,
                                   card.name or out_dir.name,
                                   weights_sha256(staging / "detector.ckpt"))
        _refuse_untrusted_output(hyperparams)
        (staging / "hyperparams.yaml").write_text(hyperparams, encoding="utf-8")
        (staging / INTERFACE_FILE).write_text(_interface(modules), encoding="utf-8")
        if training_hyperparams:
            (staging / "training_hyperparams.yaml").write_text(
                redact_local_paths(training_hyperparams), encoding="utf-8"
            )
        (staging / "README.md").write_text(
            model_card(card, settings, adapter, out_dir.name, ships_code=bool(modules)),
            encoding="utf-8",
        )
        _check_scores(staging, adapter, settings, out_dir)
    return out_dir


def export_from_hparams(
    hparams_file: str | os.PathLike,
    checkpoints: str | os.PathLike,
    out_dir: str | os.PathLike,
    overrides: dict | None = None,
    detector_key: str = "detector",
    min_key: str | None = None,
    max_key: str | None = None,
    python_modules: Sequence[str | os.PathLike] = (),
    label_encoder: str | os.PathLike | None = None,
    bonafide_label: str = "bonafide",
    settings: InferenceSettings | None = None,
    card: ModelCard | None = None,
    trust_remote_code: bool = False,
) -> pathlib.Path:
    """Exports the detector of any SpeechBrain recipe from its YAML and checkpoints.

    The YAML is loaded (objects built in a temporary working directory, with the folders
    of the YAML and of ``python_modules`` importable), the checkpoint is restored through
    the recoverables of its ``checkpointer`` that hold the detector or parts of it (all
    of its parameters must be covered), and :func:`export_detector` writes the folder.

    Arguments
    ---------
    hparams_file : str or os.PathLike
        The training YAML (the recipe's file, or SpeechBrain's copy as run).
    checkpoints : str or os.PathLike
        The Checkpointer's folder (``<output_folder>/save``) or one ``CKPT+...`` folder.
    out_dir : str or os.PathLike
        The model folder to write; not the folder of ``hparams_file`` or of the
        checkpoints, nor inside them.
    overrides : dict, optional
        The run's overrides of ``hparams_file``.
    detector_key : str
        The key of the detector in the YAML.
    min_key, max_key : str, optional
        Pick the checkpoint with the lowest / highest value of this meta key (as
        ``Brain.evaluate``); default: the most recent.
    python_modules : sequence of paths or module names
        The user's own modules the detector needs (see :func:`export_detector`).
    label_encoder : str or os.PathLike, optional
        A SpeechBrain ``CategoricalEncoder`` file (``label_encoder.txt``): the bona fide
        index is the index of ``bonafide_label`` in it.
    bonafide_label : str
        The bona fide label in ``label_encoder``.
    settings : InferenceSettings, optional
        Inference settings; missing ones come from the YAML (``sample_rate``,
        ``bonafide_index``) and the checkpoint (a ``threshold`` in its meta).
    card : ModelCard, optional
        What the model card says.
    trust_remote_code : bool
        Build whatever the YAML names; otherwise it is first checked against
        :data:`~speechbrain_ssdctx.inference.trust.RUN_POLICY` (plus ``python_modules``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    hparams_file = pathlib.Path(hparams_file).absolute()
    checkpoints = pathlib.Path(checkpoints).absolute()
    saved = checkpoints.parent if (checkpoints / "CKPT.yaml").is_file() else checkpoints
    training_folders = [hparams_file.resolve().parent, saved]
    if not _inside(pathlib.Path(out_dir), training_folders):  # refused later, by name
        check_destination(pathlib.Path(out_dir))  # before the YAML builds anything
    definition = detector_definition(hparams_file, overrides, detector_key)
    module_paths = _python_modules(python_modules)
    folders = [hparams_file.resolve().parent, *{p.parent for p in module_paths.values()}]
    if not trust_remote_code:
        policy = RUN_POLICY.extended(shipped=tuple(module_paths))
        check_hparams(open_hparams(hparams_file), policy, overrides, what="run")
    with _importable(folders), _scratch_directory():
        hparams = _load(hparams_file, overrides)
        detector = hparams[detector_key]
        checkpoint = _restore(hparams, detector, detector_key, checkpoints, min_key, max_key)
    settings = settings or InferenceSettings()
    if settings.bonafide_index is None and label_encoder is not None:
        bonafide_index = _bonafide_index_from_encoder(label_encoder, bonafide_label)
        settings = replace(settings, bonafide_index=bonafide_index)
    if settings.bonafide_index is None:
        settings = replace(settings, bonafide_index=hparams.get("bonafide_index", 1))
    if settings.sample_rate is None:
        settings = replace(settings, sample_rate=hparams.get("sample_rate"))
    if settings.threshold is None and "threshold" in checkpoint.meta:
        settings = replace(settings, threshold=float(checkpoint.meta["threshold"]))
    card = card or ModelCard()
    if card.recipe is None and hparams_file.name != "hyperparams.yaml":  # not a copy as run
        card = replace(card, recipe=hparams_file.name)
    return export_detector(
        detector, definition, out_dir, settings, card, python_modules,
        training_hyperparams=_resolved_text(hparams_file, overrides),
        training_folders=training_folders,
    )


def export_model(
    training_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: InferenceSettings | None = None,
    card: ModelCard | None = None,
    trust_remote_code: bool = False,
    averaged: bool = False,
) -> pathlib.Path:
    """Exports the best checkpoint (lowest dev EER) of a run of this project's recipes.

    The run's output folder holds ``hyperparams.yaml`` (as run), ``save/`` and, once
    the run finished, ``results.json``: the model gets the run's evaluation window, score
    type and bona fide index, the dev EER threshold of the exported checkpoint, the
    results per test set, and a card that says whether it was trained on the bundled
    demo corpus.

    Arguments
    ---------
    training_dir : str or os.PathLike
        The output folder of ``recipes/train.py``.
    out_dir : str or os.PathLike
        The model folder to write; not the training folder or inside it.
    settings : InferenceSettings, optional
        Overrides of the settings taken from the run.
    card : ModelCard, optional
        What the model card says (the training data, results and demo flag default to
        the run's).
    trust_remote_code : bool
        Build whatever the run's ``hyperparams.yaml`` names, unchecked (see
        :func:`export_from_hparams`).
    averaged : bool
        Export the run's averaged checkpoint (``save/CKPT+averaged``, written by
        ``speechbrain_ssdctx.training.averaging.average_run_checkpoints``) instead.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    training_dir = pathlib.Path(training_dir)
    hparams_file = training_dir / "hyperparams.yaml"
    if not training_dir.is_dir():
        raise ExportError(f"Training output folder '{training_dir}' does not exist")
    if not hparams_file.is_file():
        raise ExportError(f"'{training_dir}' has no hyperparams.yaml (not a training run?)")
    _refuse_training_folders(pathlib.Path(out_dir), [training_dir])
    check_destination(pathlib.Path(out_dir))
    with open(hparams_file, encoding="utf-8") as stream:  # values only, nothing built
        values = ruamel.yaml.YAML().load(stream)
    results = _read_results(training_dir / "results.json")
    window = values.get("eval_window", "full")
    samples = None
    if window == "first":
        samples = int(round(values["eval_seconds"] * values["sample_rate"]))
    derived = InferenceSettings(
        sample_rate=values.get("sample_rate"),
        window_policy=window,
        window_samples=samples,
        score_type=values.get("score_type", DEFAULT_SCORE_TYPE),
        threshold=(results or {}).get("dev", {}).get("eer_threshold"),
        bonafide_index=values.get("bonafide_index", 1),
        calibration=_read_calibration(training_dir / "calibration.json"),
    )
    given = settings or InferenceSettings()
    derived = replace(derived, **{k: v for k, v in vars(given).items() if v is not None})
    card = run_card(card or ModelCard(), values, results)
    return export_from_hparams(
        hparams_file, training_dir / "save", out_dir, min_key=None if averaged else "EER",
        max_key=AVERAGED_KEY if averaged else None, settings=derived, card=card,
        trust_remote_code=trust_remote_code,
    )


def run_card(card: ModelCard, values: dict, results: dict | None) -> ModelCard:
    """The card of a run of this project's recipes: what the user gave, else the run's.

    The training data, datasets, data licence and citation come from the run's training
    corpus (the registry, :func:`~speechbrain_ssdctx.data.corpora.training_corpus`) only
    when the user named no data of their own (``--training-data`` / ``--dataset``).

    Example
    -------
    >>> card = run_card(ModelCard(training_data="My calls"), {"data_folder": "/LA"}, None)
    >>> card.training_data, card.datasets, card.data_licence
    ('My calls', None, None)
    >>> run_card(ModelCard(), {"data_folder": "/LA"}, None).datasets
    ['asvspoof2019']
    """
    corpus = training_corpus(values)
    experiment = values.get("experiment_name")
    own_data = card.training_data is not None or card.datasets is not None
    if not own_data:
        card = replace(
            card, training_data=corpus.training_data or corpus.title, datasets=[corpus.dataset],
            data_licence=card.data_licence or corpus.licence or None,
            citation=card.citation or corpus.citation or None,
        )
    return replace(
        card,
        results=card.results if card.results is not None else results,
        demo=card.demo or corpus.name == DEMO,
        recipe=card.recipe or (f"hparams/{experiment}.yaml" if experiment else None),
    )


def _load(hparams_file: pathlib.Path, overrides: dict | None) -> dict:
    try:
        return load_hyperpyyaml(open_hparams(hparams_file), overrides or {})
    except Exception as error:  # HyperPyYAML raises many types (YAML, import, call)
        raise ExportError(f"Cannot load '{hparams_file}': {error}") from error


def _resolved_text(hparams_file: pathlib.Path, overrides: dict | None) -> str:
    return resolve_references(open_hparams(hparams_file), overrides or {}).getvalue()


def _restore(hparams, detector, detector_key, checkpoints, min_key, max_key):
    """Restores the detector's recoverables from the chosen checkpoint; returns it."""
    checkpointer = hparams.get("checkpointer")
    if not isinstance(checkpointer, Checkpointer):
        raise ExportError(f"The training YAML has no 'checkpointer' to restore '{detector_key}'")
    recoverables = {
        name: obj for name, obj in checkpointer.recoverables.items() if _holds(obj, detector)
    }
    covered = {id(p) for obj in recoverables.values() for p in obj.parameters()}
    missing = [name for name, p in detector.named_parameters() if id(p) not in covered]
    if not recoverables or missing:
        raise ExportError(
            f"The checkpointer's recoverables {sorted(checkpointer.recoverables)} do not hold "
            f"all of '{detector_key}' (not covered: {missing[:5] or 'everything'})"
        )
    single = (checkpoints / "CKPT.yaml").is_file()
    folder = checkpoints.parent if single else checkpoints
    if not folder.is_dir():
        raise ExportError(f"Checkpoint folder '{checkpoints}' does not exist")
    restorer = Checkpointer(folder, recoverables)
    try:
        checkpoint = restorer.recover_if_possible(
            min_key=min_key, max_key=max_key,
            ckpt_predicate=(lambda c: c.path.resolve() == checkpoints.resolve()) if single
            else None,
        )
    except KeyError as error:
        raise ExportError(
            f"A checkpoint in '{checkpoints}' has no file for the recoverable {error}"
        ) from error
    except (RuntimeError, OSError) as error:
        raise ExportError(
            f"Cannot restore '{detector_key}' from '{checkpoints}': {error}"
        ) from error
    if checkpoint is None:
        wanted = f" with a '{min_key or max_key}' value" if (min_key or max_key) else ""
        raise ExportError(f"'{checkpoints}' holds no checkpoint{wanted}")
    return checkpoint


def _holds(recoverable, detector: torch.nn.Module) -> bool:
    """Whether a recoverable is the detector, a part of it, or a module holding it (a
    ``ModuleList`` of the detector and other modules, common in SpeechBrain recipes)."""
    if not isinstance(recoverable, torch.nn.Module):
        return False
    parts = {id(module) for module in detector.modules()}
    return id(recoverable) in parts or any(id(m) in parts for m in recoverable.modules())


@contextlib.contextmanager
def _importable(folders):
    """Puts folders first on ``sys.path`` (the recipe's own modules) for the block."""
    added = [str(folder) for folder in folders if str(folder) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


@contextlib.contextmanager
def _scratch_directory():
    """Runs the block in a temporary working directory: building a training YAML creates
    folders (the Checkpointer's) relative to it."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(previous)


def _bonafide_index_from_encoder(path, label) -> int:
    encoder = CategoricalEncoder()
    try:
        encoder.load(path)
    except (OSError, ValueError, SyntaxError) as error:
        raise ExportError(f"Cannot read the label encoder '{path}': {error}") from error
    if label not in encoder.lab2ind:
        raise ExportError(f"Label encoder '{path}' has no label {label!r}: {encoder.lab2ind}")
    if len(encoder.lab2ind) != 2:
        raise ExportError(f"Label encoder '{path}' has {len(encoder.lab2ind)} labels, not 2")
    return int(encoder.lab2ind[label])


def _read_calibration(path: pathlib.Path) -> Calibration | None:
    """The run's calibration (``calibration.json``), or None if it has none."""
    if not path.is_file():
        return None
    try:
        return Calibration.load(path)
    except ValueError as error:
        raise ExportError(str(error)) from error


def _read_results(path: pathlib.Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ExportError(f"'{path}' is not valid JSON: {error}") from error


def _inside(out_dir: pathlib.Path, folders) -> pathlib.Path | None:
    """The first of ``folders`` that ``out_dir`` is or is inside, or None."""
    out = out_dir.resolve()
    for folder in folders:
        folder = pathlib.Path(folder).resolve()
        if out == folder or folder in out.parents:
            return folder
    return None


def _refuse_training_folders(out_dir: pathlib.Path, folders) -> None:
    """Refuses an output folder equal to or inside a training folder."""
    folder = _inside(out_dir, folders)
    if folder is not None:
        raise ExportError(
            f"Refusing to export into '{out_dir}': it is the training folder '{folder}' "
            "or inside it, whose files (hyperparameters as run, checkpoints, results) "
            "the export would overwrite or mix with; choose another folder"
        )


def _python_modules(modules) -> dict[str, pathlib.Path]:
    """``{module name: file}`` of paths (``custom_model.py``) or module names."""
    found = {}
    for module in modules:
        path = pathlib.Path(module)
        if path.suffix == ".py":
            if not path.is_file():
                raise ExportError(f"Python module file '{path}' does not exist")
            found[path.stem] = path.resolve()
            continue
        spec = importlib.util.find_spec(str(module))
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            raise ExportError(f"Python module '{module}' is neither a .py file nor importable")
        found[str(module)] = pathlib.Path(spec.origin)
    return found


def _ship_modules(text: str, modules: dict[str, pathlib.Path]) -> str:
    """The definition with tags of the shipped modules pointing at the interface file."""
    for name in modules:
        pattern = r"(!(?:new|name|apply|module):)" + re.escape(name) + r"\."
        text = re.sub(pattern, r"\g<1>" + INTERFACE_MODULE + ".", text)
    return text


def _refuse_unshipped_modules(text: str) -> None:
    """Refuses a definition that uses code that is neither installed nor shipped."""
    roots = set(re.findall(r"!(?:new|name|apply|module):([A-Za-z_][\w]*)", text))
    known = set(importlib.metadata.packages_distributions()) | set(sys.stdlib_module_names)
    known |= set(dir(builtins)) | {INTERFACE_MODULE, "speechbrain_ssdctx"}
    local = sorted(roots - known)
    if local:
        raise ExportError(
            f"The detector uses the module(s) {local}, which are not installed packages: "
            "ship their code with python_modules (ssdctx-export --python-module FILE.py)"
        )


def _refuse_untrusted_output(hyperparams: str) -> None:
    """Refuses to write a ``hyperparams.yaml`` that loading would refuse without an opt-in."""
    stream = io.StringIO(hyperparams)
    stream.name = "hyperparams.yaml"
    findings = untrusted_tags(stream, MODEL_POLICY.extended(shipped=(INTERFACE_MODULE,)))
    if findings:
        raise ExportError(
            f"The exported hyperparams.yaml would name {findings[0].tag}, which loading "
            "refuses without trust_remote_code: build the detector from this package, "
            "SpeechBrain's lobes / nnet / processing modules, torch.nn, or modules shipped "
            "with --python-module"
        )


def _interface(modules: dict[str, pathlib.Path]) -> str:
    """``custom_interface.py``: the interface class, then the user's modules' code."""
    future, bodies = set(), []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        if re.search(rf"^(class|def) {INTERFACE_CLASS}\b", source, re.MULTILINE):
            raise ExportError(f"'{path}' defines {INTERFACE_CLASS}, the interface's name")
        kept = []
        for line in source.splitlines():
            (future.add if line.startswith("from __future__ import") else kept.append)(line)
        bodies.append(f"# ---- {path.name} (module {name}) ----\n" + "\n".join(kept))
    header = f'''"""SpeechBrain interface of a model exported by speechbrain-ssdctx {__version__}.

Load the model with SpeechBrain's foreign_class (pip install speechbrain-ssdctx first)::

    from speechbrain.inference.interfaces import foreign_class
    detector = foreign_class(source="<hub id or folder>", pymodule_file="{INTERFACE_FILE}",
                             classname="{INTERFACE_CLASS}")
    detector.score_file("audio.wav")  # higher = more likely bona fide
"""
'''
    parts = [header, *sorted(future), "",
             f"from speechbrain_ssdctx.inference import {INTERFACE_CLASS}  # noqa: F401", ""]
    return "\n".join([*parts, *bodies]).rstrip() + "\n"


#: The comment at the top of ``hyperparams.yaml`` (``{name}``, ``{version}``: fields).
HEADER = """\
# {rule}
# {name}: a synthetic speech detector exported by speechbrain-ssdctx {version}.
# SpoofDetector.from_hparams(<this folder or its Hub id>) loads it. HyperPyYAML
# runs the code it names: load models only from sources you trust.
# {rule}

# ---- the detector, as trained ----
"""

#: Comments before keys of the inference part of ``hyperparams.yaml`` (a line "" is blank).
INFERENCE_COMMENTS = {
    "threshold": ["Decision threshold on the score (a score at or above it is bona fide)."],
    "bonafide_index": [
        "The logit index of bona fide the detector was trained with; the scorer below",
        "reorders the logits so that index 1 is bona fide (higher score = bona fide).",
    ],
    "scorer": [""],
    "modules": [""],
    "weights_sha256": [
        "",
        "The sha256 of detector.ckpt: loading refuses weights of another export.",
    ],
    "pretrainer": [
        "",
        "No paths: the weights are detector.ckpt next to this file (folder or Hub",
        "repository), read with torch.load(weights_only=True) and loaded strictly.",
    ],
    "calibration": [
        "",
        "Score calibration (e.g. fitted on the development scores): llr = slope * score",
        "+ offset is a natural-log likelihood ratio, bona fide vs spoof.",
    ],
}

#: The public paths the exported YAML names (kept stable for exported folders).
ADAPTER_PATH = "speechbrain_ssdctx.method.contract.ContractAdapter"
LOAD_WEIGHTS_PATH = "speechbrain_ssdctx.inference.load_weights"
PRETRAINER_PATH = "speechbrain.utils.parameter_transfer.Pretrainer"


def _hyperparams(
    text: str, key: str, settings: InferenceSettings, name: str, sha256: str | None = None
) -> str:
    """The exported ``hyperparams.yaml``: the definition, then the inference settings.

    The definition's YAML tree (as :func:`detector_definition` wrote it, with its
    comments) gets the inference keys as nodes (HyperPyYAML tags as ruamel tagged nodes)
    and is written by ruamel.yaml, so that any value is quoted as YAML needs.
    """
    tree = _yaml().load(text) or CommentedMap()
    clash = [k for k in INFERENCE_KEYS if k in tree and k not in ("sample_rate", MODEL_FOLDER_KEY)]
    if clash:
        raise ExportError(f"The detector's definition defines {clash}, which export writes")
    if "sample_rate" in tree and tree["sample_rate"] != settings.sample_rate:
        raise ExportError(
            f"The detector's definition has sample_rate {tree['sample_rate']}, the "
            f"export settings {settings.sample_rate}"
        )
    own = "".join(token.value for token in (tree.ca.comment or [None, []])[1] or [])
    tree.yaml_set_start_comment(
        HEADER.format(rule="#" * 76, name=" ".join(name.split()), version=__version__) + own
    )
    inference = _inference_tree(key, settings, "sample_rate" not in tree, sha256)
    tree.update(inference)
    comments = {**INFERENCE_COMMENTS, next(iter(inference)): ["", "---- inference ----"]}
    for item, lines in comments.items():
        if item in tree:
            tree.yaml_set_comment_before_after_key(item, before="\n".join(lines) or "\n")
    stream = io.StringIO()
    _yaml().dump(tree, stream)
    return stream.getvalue()


def _inference_tree(
    key: str, settings: InferenceSettings, sample_rate: bool, sha256: str | None
) -> CommentedMap:
    """The inference keys of ``hyperparams.yaml``: settings, scorer, modules, pretrainer
    (whose hook checks the weights against ``weights_sha256``, when given)."""
    tree = CommentedMap()
    if sample_rate:
        tree["sample_rate"] = settings.sample_rate
    tree["window_policy"] = settings.window_policy
    tree["window_samples"] = settings.window_samples
    for optional in ("window_seconds", "hop_seconds", "aggregate", "min_samples"):
        if getattr(settings, optional):
            tree[optional] = getattr(settings, optional)
    tree["score_type"] = settings.score_type
    tree["threshold"] = 0.0 if settings.threshold is None else float(settings.threshold)
    tree["bonafide_index"] = settings.bonafide_index
    tree["scorer"] = _tagged(
        f"!new:{ADAPTER_PATH}",
        detector=_ref(key), bonafide_index=_ref("bonafide_index"),
    )
    tree["modules"] = CommentedMap(detector=_ref("scorer"))
    hook = TaggedScalar("", tag=f"!name:{LOAD_WEIGHTS_PATH}")
    if sha256 is not None:
        tree["weights_sha256"] = sha256
        hook = _tagged(f"!name:{LOAD_WEIGHTS_PATH}", sha256=_ref("weights_sha256"))
    tree["pretrainer"] = _tagged(
        f"!new:{PRETRAINER_PATH}",
        loadables=CommentedMap(detector=_ref("scorer")),
        custom_hooks=CommentedMap(detector=hook),
    )
    if settings.calibration is not None:
        tree["calibration"] = CommentedMap(settings.calibration.to_dict())
    return tree


def _tagged(tag: str, **items) -> CommentedMap:
    """A mapping node with a HyperPyYAML tag (``!new:...``)."""
    node = CommentedMap(items)
    node.yaml_set_ctag(Tag(suffix=tag))
    return node


def _ref(name: str) -> TaggedScalar:
    """A HyperPyYAML reference to another key (``!ref <name>``)."""
    return TaggedScalar(f"<{name}>", tag="!ref")


def _yaml() -> ruamel.yaml.YAML:
    """Round-trip YAML whose floats PyYAML (HyperPyYAML's loader, YAML 1.1) reads as floats."""
    handler = ruamel.yaml.YAML()
    handler.representer.add_representer(float, _represent_float)
    handler.representer.add_representer(type(None), _represent_none)
    return handler


def _represent_none(representer, _):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _represent_float(representer, value: float):
    """A float with a dot in its mantissa (``1.0e-20``, not ``1e-20``: a string in YAML 1.1)."""
    text = repr(float(value))
    mantissa, exponent, power = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{power if power.startswith('-') else '+' + power.lstrip('+')}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def _check_scores(
    folder: pathlib.Path, adapter: ContractAdapter, settings, out_dir: pathlib.Path
) -> None:
    """Loads ``folder`` back and compares its logits with the detector's on a probe
    (``out_dir``: the destination, for the message)."""
    length = max(settings.window_samples or settings.sample_rate, settings.min_samples or 0,
                 getattr(adapter, "min_samples", 0) or 0)
    probe = torch.randn(2, length, generator=torch.Generator().manual_seed(0))
    # the folder was just written from the user's own detector and modules
    loaded = SpoofDetector.from_hparams(folder, trust_remote_code=True)
    logits = []
    training = adapter.training
    adapter.eval()
    try:
        for model in (adapter, loaded.mods.detector):
            device = next(iter(model.parameters()), torch.zeros(0)).device
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(0)  # x-vector statistics pooling adds noise, even in eval
                logits.append(model(probe.to(device), torch.ones(2, device=device))[1].cpu())
    finally:
        adapter.train(training)
    if not torch.allclose(logits[0], logits[1], rtol=1e-4, atol=1e-4):
        difference = float((logits[0] - logits[1]).abs().max())
        raise ExportError(
            f"The model exported to '{out_dir}' does not score like the detector (logits "
            f"differ by {difference:.3g}): part of the detector's state is not in its "
            "state_dict or its definition builds something else"
        )


def redact_local_paths(text: str) -> str:
    """Replaces absolute local paths by ``<local>/<last part>`` (for shared files).

    Example
    -------
    >>> redact_local_paths("data_folder: /home/me/LA  # see ~/notes/x.txt")
    'data_folder: <local>/LA  # see <local>/x.txt'
    """
    pattern = r"(?<![^\s'\"=:\[(,])(?:~|/(?=[^\s/]))(?:/?[^\s/'\",\]\}]+)*/([^\s/'\",\]\}]+)"
    return re.sub(pattern, r"<local>/\1", text)
