"""Model folders: where they come from (bundled, local, HuggingFace Hub) and what they hold.

A model folder holds ``hyperparams.yaml`` (HyperPyYAML: the detector, the inference
settings, a ``Pretrainer`` whose hook is :func:`load_weights`), ``detector.ckpt`` and
``custom_interface.py`` (the interface for SpeechBrain's ``foreign_class``, with the
user's own code when the detector needs it). The official AASIST models are bundled in
``speechbrain_ssdctx/pretrained`` and load by short name (:data:`BUNDLED_MODELS`).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pickle
import sys
from importlib import resources

import ruamel.yaml
import torch
from speechbrain.utils.fetching import FetchConfig, fetch

from speechbrain_ssdctx.inference.carried_ssl import MODEL_FOLDER_KEY, SSL_FOLDER
from speechbrain_ssdctx.inference.export_folder import weights_sha256

#: Short names of the bundled models and their inference YAML in ``pretrained/``.
BUNDLED_MODELS = {
    "aasist": "aasist.yaml",
    "aasist-l": "aasist-l.yaml",
    "aasist-asvspoof5": "aasist-asvspoof5.yaml",
}

#: The interface module of exported models; the hyperparameters refer to the code it
#: ships as ``custom_interface.<name>``.
INTERFACE_MODULE = "custom_interface"

#: The interface file of exported models (``foreign_class``'s ``pymodule_file``).
INTERFACE_FILE = f"{INTERFACE_MODULE}.py"

#: The class ``foreign_class`` returns from the interface file
#: (:class:`~speechbrain_ssdctx.inference.SpoofDetector`).
INTERFACE_CLASS = "SpoofDetector"


def bundled_models_dir() -> pathlib.Path:
    """The folder holding the bundled official AASIST weights and their YAML files."""
    return pathlib.Path(str(resources.files("speechbrain_ssdctx") / "pretrained"))


def load_weights(
    module: torch.nn.Module, path: str | os.PathLike, sha256: str | None = None
) -> None:
    """Pretrainer hook: loads a plain state_dict strictly, never unpickling objects.

    ``torch.load(weights_only=True)`` only accepts tensors and plain containers, so a
    tampered checkpoint cannot run code; every parameter must match (``strict=True``),
    unlike SpeechBrain's default transfer hook, which only logs missing keys. Model
    folders name it ``speechbrain_ssdctx.inference.load_weights``; exports pass the
    weights' ``sha256`` (their YAML's ``weights_sha256``), so that weights of another
    export are refused.

    Arguments
    ---------
    module : torch.nn.Module
        The module to fill.
    path : str or os.PathLike
        A file written by ``torch.save(module.state_dict(), path)``.
    sha256 : str, optional
        The file's expected sha256 (hex); None: not checked (exports before 0.3).

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), tmpdir / "lin.ckpt")
    >>> module = torch.nn.Linear(2, 1)
    >>> load_weights(module, tmpdir / "lin.ckpt")
    """
    if sha256 is not None and weights_sha256(path) != str(sha256).lower():
        raise ValueError(
            f"'{path}' is not the weights its hyperparams.yaml was exported with (sha256 "
            f"{weights_sha256(path)[:12]}..., expected {str(sha256)[:12]}...): the folder "
            "mixes files of two exports; export the model again"
        )
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state_dict, strict=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"'{path}' holds Python objects besides weights; refusing to unpickle them "
            f"(torch.load weights_only=True): {error}"
        ) from error
    except (RuntimeError, OSError, ValueError) as error:
        raise ValueError(f"Cannot load the weights in '{path}': {error}") from error


def is_bundled_name(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a bundled model rather than a path.

    A bundled short name wins over a folder of the same name in the current directory;
    write the folder as a path (``./aasist``, or any argument holding a slash) to load it.

    Example
    -------
    >>> is_bundled_name("AASIST-L"), is_bundled_name("./aasist"), is_bundled_name("x/aasist")
    (True, False, False)
    """
    text = os.fspath(source)
    return text.lower() in BUNDLED_MODELS and not any(c in text for c in "/\\~")


def looks_like_hub_id(source: str) -> bool:
    """Whether ``source`` has the form ``org/name`` of a HuggingFace model id.

    Example
    -------
    >>> looks_like_hub_id("org/model"), looks_like_hub_id("./model"), looks_like_hub_id("a/b/c")
    (True, False, False)
    """
    parts = source.split("/")
    return (
        len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and "\\" not in source
    )


def check_model_yaml(path: pathlib.Path, folder: pathlib.Path) -> None:
    """Refuses a model folder whose YAML lacks what loading needs, before running any of it.

    Arguments
    ---------
    path : pathlib.Path
        The hyperparameters file.
    folder : pathlib.Path
        The model folder, for messages.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If it is not YAML, or defines no ``modules`` or no ``pretrainer``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"Model folder '{folder}' has no '{path.name}'")
    try:
        keys = ruamel.yaml.YAML().load(path.read_text(encoding="utf-8")) or {}
    except (ruamel.yaml.YAMLError, UnicodeDecodeError) as error:
        first = " ".join(str(error).split())
        raise ValueError(
            f"Model folder '{folder}': '{path.name}' is not valid YAML: {first}"
        ) from None
    missing = [key for key in ("modules", "pretrainer") if key not in keys]
    if missing:
        raise ValueError(
            f"Model folder '{folder}': '{path.name}' defines no {' or '.join(missing)} "
            "(a model folder written by ssdctx-export has both)"
        )


def fetched_hparams(
    source: str, hparams_file: str, savedir, fetch_config: FetchConfig | None
) -> pathlib.Path:
    """The model's hyperparameters file, fetched (linked or downloaded), nothing built."""
    return fetch(filename=hparams_file, source=source, savedir=savedir,
                 fetch_config=fetch_config or FetchConfig())


def shipped_interface(
    source: str, hparams_file: str, savedir, fetch_config: FetchConfig | None
) -> pathlib.Path | None:
    """The model's ``custom_interface.py`` when its hyperparameters use code shipped in it
    (an exported model with the user's own modules), fetched next to them; else None."""
    text = fetched_hparams(source, hparams_file, savedir, fetch_config).read_text(
        encoding="utf-8")
    if f":{INTERFACE_MODULE}." not in text:
        return None
    return fetch(filename=INTERFACE_FILE, source=source, savedir=savedir,
                 fetch_config=fetch_config or FetchConfig())


def folder_overrides(
    source: str, hparams_file: str, savedir, fetch_config: FetchConfig | None
) -> dict:
    """The override that points an exported YAML's carried files at its model folder.

    An export that carries SSL models (:mod:`~speechbrain_ssdctx.inference.carried_ssl`)
    defines ``model_folder``: it is set to ``source`` when that is a folder, or to the
    local copy of the Hub repository's carried files (downloaded once, then cached).
    Other YAML files get no override.

    Arguments
    ---------
    source : str
        A model folder (absolute) or a HuggingFace id.
    hparams_file : str
        The hyperparameters file inside ``source``.
    savedir : str or os.PathLike, optional
        As for ``SpoofDetector.from_hparams``.
    fetch_config : FetchConfig, optional
        As for ``fetch``.

    Returns
    -------
    dict
        ``{"model_folder": folder}`` or ``{}``.
    """
    path = fetched_hparams(source, hparams_file, savedir, fetch_config)
    tree = ruamel.yaml.YAML().load(path.read_text(encoding="utf-8"))
    if not isinstance(tree, dict) or MODEL_FOLDER_KEY not in tree:
        return {}
    if pathlib.Path(source).is_dir():
        return {MODEL_FOLDER_KEY: str(source)}
    from huggingface_hub import snapshot_download

    return {MODEL_FOLDER_KEY: snapshot_download(source, allow_patterns=[f"{SSL_FOLDER}/*"])}


@contextlib.contextmanager
def importable_interface(path: pathlib.Path | None):
    """Makes ``custom_interface`` import from ``path`` (not from a model loaded before)."""
    if path is None:
        yield
        return
    sys.modules.pop(INTERFACE_MODULE, None)
    sys.path.insert(0, str(path.parent))
    try:
        yield
    finally:
        sys.path.remove(str(path.parent))


#: The file in a savedir that names the model it holds (see :func:`claim_savedir`).
SAVEDIR_RECORD = ".ssdctx-model"


def claim_savedir(savedir: str | os.PathLike, source: str, hparams_file: str) -> None:
    """Makes a savedir hold one model: reused for the same model only.

    SpeechBrain links (local models) or downloads (Hub models) a model's files into the
    savedir and reuses whatever it finds there, so a savedir used before for another
    model would load that model's weights. A new or empty folder is claimed for
    ``source`` (a record file names it); a folder claimed for the same model is reused;
    any other folder is refused.

    Arguments
    ---------
    savedir : str or os.PathLike
        The folder the user asked for.
    source : str
        The model's source as loaded (resolved local path or Hub id).
    hparams_file : str
        Its hyperparameters file.

    Raises
    ------
    FileExistsError
        If the savedir holds another model, or files that no model load put there.

    Example
    -------
    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "models"
    >>> claim_savedir(folder, "my-org/a", "hyperparams.yaml")
    >>> claim_savedir(folder, "my-org/a", "hyperparams.yaml")  # the same model: reused
    >>> claim_savedir(folder, "my-org/b", "hyperparams.yaml")
    Traceback (most recent call last):
    ...
    FileExistsError: savedir '...models' holds the model 'my-org/a', not 'my-org/b': ...
    """
    folder = pathlib.Path(savedir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"savedir '{folder}' is a file, not a folder")
    record = folder / SAVEDIR_RECORD
    identity = f"{source}\n{hparams_file}\n"
    if record.is_file():
        held = record.read_text(encoding="utf-8")
        if held != identity:
            raise FileExistsError(
                f"savedir '{folder}' holds the model '{held.splitlines()[0]}', not "
                f"'{source}': use another savedir, or delete that one"
            )
        return
    if folder.is_dir() and any(folder.iterdir()):
        raise FileExistsError(
            f"savedir '{folder}' is not empty and names no model (it was not filled by "
            "loading one): give a new or empty folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    record.write_text(identity, encoding="utf-8")
