"""SSL front ends carried in an export: SpeechBrain's HuggingFace lobes, from any recipe.

A recipe that builds its front end with SpeechBrain's HuggingFace lobes
(``!new:speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2`` or WavLM,
HuBERT...: every ``HFTransformersInterface``) names the pretrained model by ``source:``
and ``save_path:``, often a folder of the training machine. The lobe reads that folder
when it is built (``config.json``, the weights, ``preprocessor_config.json``), so an
export that kept those paths would not load anywhere else. :func:`carry_ssl_models`
writes each lobe's model, as trained, into the export (``ssl/<n>_<model type>/``:
``save_pretrained`` of the model and of its feature extractor) and points ``source`` and
``save_path`` at it through ``model_folder``, a key of the exported YAML that
``SpoofDetector.from_hparams`` sets to the model folder when it loads it.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import pathlib
import pydoc
import warnings

import torch
from ruamel.yaml.comments import CommentedMap, TaggedScalar

#: The base class of SpeechBrain's HuggingFace lobes (found by name: SpeechBrain 1.1 moved
#: it from ``speechbrain.lobes.models.huggingface_transformers`` to
#: ``speechbrain.integrations.huggingface``, and the old path builds other class objects).
HF_INTERFACE = "HFTransformersInterface"

#: The key of the exported YAML the carried models' paths refer to (``!ref
#: <model_folder>/ssl/...``): the model folder, set at load.
MODEL_FOLDER_KEY = "model_folder"

#: The export's subfolder of the carried SSL models.
SSL_FOLDER = "ssl"


def is_hf_lobe(cls) -> bool:
    """Whether ``cls`` is one of SpeechBrain's HuggingFace lobes.

    Example
    -------
    >>> is_hf_lobe(torch.nn.Linear)
    False
    """
    return isinstance(cls, type) and any(base.__name__ == HF_INTERFACE for base in cls.__mro__)


def carry_ssl_models(tree: CommentedMap, detector: torch.nn.Module, folder: pathlib.Path) -> bool:
    """Writes the detector's HuggingFace lobes into ``folder`` and repoints ``tree`` at them.

    Arguments
    ---------
    tree : CommentedMap
        The detector's definition (ruamel round-trip tree), changed in place: each lobe
        node's ``source`` and ``save_path`` become ``!ref <model_folder>/ssl/<n>_<type>``,
        as does any plain string of the tree equal to the paths they replace, and
        ``model_folder: .`` is added first.
    detector : torch.nn.Module
        The trained detector (its lobes, in module order, match the nodes in YAML order).
    folder : pathlib.Path
        The export folder.

    Returns
    -------
    bool
        Whether any lobe was carried.

    Raises
    ------
    ValueError
        If the YAML's lobes and the detector's do not match one to one.
    """
    nodes = [node for node in _walk(tree) if _lobe_class(node) is not None]
    if not nodes:
        return False
    if MODEL_FOLDER_KEY in tree:
        raise ValueError(f"The detector's definition defines '{MODEL_FOLDER_KEY}', which "
                         "the export writes to carry its SSL models")
    names = [_lobe_class(node).__name__ for node in nodes]
    lobes = [m for m in detector.modules() if is_hf_lobe(type(m)) and type(m).__name__ in names]
    if [type(lobe).__name__ for lobe in lobes] != names:
        raise ValueError(
            f"The detector's definition builds the HuggingFace lobes {names}, the detector "
            f"holds {[type(lobe).__name__ for lobe in lobes]}: cannot carry them"
        )
    replaced = {}
    for index, (node, lobe) in enumerate(zip(nodes, lobes, strict=True)):
        relative = f"{SSL_FOLDER}/{index}_{lobe.model.config.model_type}"
        _save_lobe(lobe, folder / relative)
        for key in ("source", "save_path"):
            if isinstance(node.get(key), str) and node[key]:
                replaced[node[key]] = relative
            node[key] = _folder_ref(relative)
    _replace_strings(tree, replaced)
    tree.insert(0, MODEL_FOLDER_KEY, ".")
    return True


def _save_lobe(lobe, target: pathlib.Path) -> None:
    """What the lobe reads when it is built: config, weights, feature extractor's config."""
    target.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lobe.model.save_pretrained(target)
        extractor = getattr(lobe, "feature_extractor", None)
        if extractor is not None:
            extractor.save_pretrained(target)


def _lobe_class(node):
    """The lobe class a ``!new:`` node builds, or None."""
    tag = getattr(getattr(node, "tag", None), "value", None) or ""
    if not isinstance(node, dict) or not tag.startswith("!new:"):
        return None
    with warnings.catch_warnings():  # the deprecated lobe path warns when imported
        warnings.simplefilter("ignore")
        cls = pydoc.locate(tag[len("!new:"):])
    return cls if is_hf_lobe(cls) else None


def _walk(node):
    """The nodes of a tree, depth first, in document order."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _replace_strings(node, replaced: dict) -> None:
    """Replaces plain strings equal to a replaced path by a reference to its copy."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and not isinstance(value, TaggedScalar) and value in replaced:
            node[key] = _folder_ref(replaced[value])
        else:
            _replace_strings(value, replaced)


def _folder_ref(relative: str) -> TaggedScalar:
    return TaggedScalar(f"<{MODEL_FOLDER_KEY}>/{relative}", tag="!ref")
