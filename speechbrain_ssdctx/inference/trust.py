"""Safe loading of shared models: what a ``hyperparams.yaml`` may build without an opt-in.

HyperPyYAML builds whatever a YAML file names: ``!apply:os.system ["..."]`` runs a shell
command the moment the file is loaded. A model folder is what strangers share (the
HuggingFace Hub), so :meth:`~speechbrain_ssdctx.inference.SpoofDetector.from_hparams`,
``ssdctx-score``, ``ssdctx-plot`` and ``ssdctx-export`` first read the file's tags
without building anything and refuse any tag that a :class:`TrustPolicy` does not
allow, with one line naming the line and the tag; ``trust_remote_code=True`` (Python) or
``--trust-remote-code`` (command line) skips the check, as in HuggingFace
``transformers``.

What is checked, before anything is built or imported from outside the allow-list:

- every tag of the file and of the files it ``!include:``\\ s, keys and values, through
  anchors and aliases: ``!new:``, ``!name:``, ``!module:`` must name an object of an
  allowed package (or an allowed object), and that object must really live there (a path
  through a module that imports ``os`` is refused); ``!apply:`` and ``!applyref:`` (which
  call a function while the file loads) must name one of a few allowed functions;
  ``!!python/...`` tags and unknown tags are refused;
- strings HyperPyYAML reads as tuples (``(a, b)``), whose content YAML parses again;
- the same once ``!ref``, ``!copy`` and ``!include:`` are resolved (a reference can
  assemble a tuple string), the finding then named by the line of its key.

A model folder's ``custom_interface.py`` (the user's own modules, shipped by
``ssdctx-export --python-module``) is Python code that runs when the model loads and
cannot be vetted by reading tags: hyperparameters that name it need the opt-in too, as
code in a repository does for ``transformers``.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import pathlib
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import ruamel.yaml
import yaml
from hyperpyyaml import resolve_references

from speechbrain_ssdctx.inference.model_folder import INTERFACE_MODULE

#: The HyperPyYAML tags that build or name Python objects.
OBJECT_TAGS = ("!new:", "!name:", "!module:")

#: The HyperPyYAML tags that call a function while the file loads.
CALL_TAGS = ("!apply:", "!applyref:")

#: HyperPyYAML tags that build nothing (``!include:`` files are checked themselves).
INERT_TAGS = ("!ref", "!copy", "!tuple", "!PLACEHOLDER")

#: The standard YAML tags that build plain data.
DATA_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge",
                 "binary", "omap", "set", "value")
}

#: A string HyperPyYAML reads as a tuple, parsing its content as YAML again.
TUPLE = re.compile(r"^\(.*\)$", re.DOTALL)


class UntrustedCodeError(ValueError):
    """A YAML file names code outside the allow-list; the message names the line and tag."""


@dataclass(frozen=True)
class TrustPolicy:
    """What a HyperPyYAML file may build without ``trust_remote_code``.

    Arguments
    ---------
    packages : tuple of str
        Packages (or modules) whose classes and functions ``!new:``, ``!name:`` and
        ``!module:`` may name; the object must be defined in one of them.
    objects : tuple of str
        Single objects ``!new:`` and ``!name:`` may name, wherever they are defined.
    functions : tuple of str
        The functions ``!apply:`` and ``!applyref:`` may call (and ``!name:`` name).
    shipped : tuple of str
        Modules allowed by name without importing them here (``custom_interface``,
        shipped with the model; the user's own recipe modules).

    Example
    -------
    >>> MODEL_POLICY.refusal("!new:", "speechbrain.lobes.features.Fbank") is None
    True
    >>> MODEL_POLICY.refusal("!apply:", "os.system")
    'calls a function outside the allow-list'
    """

    packages: tuple[str, ...]
    objects: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    shipped: tuple[str, ...] = field(default=())

    def extended(self, packages=(), objects=(), functions=(), shipped=()) -> TrustPolicy:
        """This policy allowing more (each argument: a tuple added to the field)."""
        return replace(
            self, packages=(*self.packages, *packages), objects=(*self.objects, *objects),
            functions=(*self.functions, *functions), shipped=(*self.shipped, *shipped),
        )

    def refusal(self, kind: str, path: str) -> str | None:
        """Why the tag ``kind + path`` (``"!new:"``, ``"torch.nn.Linear"``) is refused; None
        if it is allowed. Imports only modules of the allowed packages."""
        parts = path.split(".")
        if not all(part.isidentifier() and not part.startswith("_") for part in parts):
            return "names a private or malformed path"
        if kind in CALL_TAGS:
            return None if path in self.functions else "calls a function outside the allow-list"
        if path in self.objects or (kind == "!name:" and path in self.functions):
            return None
        if _within(path, self.shipped):
            return None
        if not _within(path, self.packages):
            return "is outside the allow-list"
        found, why = _locate(parts, self.packages)
        if why:
            return why
        wanted = {"!new:": inspect.isclass, "!name:": callable, "!module:": inspect.ismodule}
        if not wanted[kind](found):
            return f"does not name a {kind.strip('!:')} target (a {type(found).__name__})"
        return None


#: What a model folder may build: this package, SpeechBrain's lobes, nnet and processing
#: modules, torch modules, and the few callables that exports and bundled models write.
MODEL_POLICY = TrustPolicy(
    packages=("speechbrain_ssdctx", "speechbrain.lobes", "speechbrain.nnet",
              "speechbrain.processing", "torch.nn"),
    objects=("speechbrain.utils.parameter_transfer.Pretrainer",),
    functions=("os.fspath", "speechbrain_ssdctx.pretrained.bundled_checkpoint"),
)

#: What a training run's ``hyperparams.yaml`` may build (read by ``ssdctx-export``): a
#: model folder's objects and SpeechBrain's and torch's training machinery.
RUN_POLICY = MODEL_POLICY.extended(
    packages=("torch.optim", "speechbrain.augment", "speechbrain.dataio",
              "speechbrain.utils.checkpoints", "speechbrain.utils.epoch_loop",
              "speechbrain.utils.train_logger", "speechbrain.utils.metric_stats"),
    functions=("speechbrain.utils.seed.seed_everything", "speechbrain.utils.seed_everything",
               "torch.manual_seed", "setattr",
               "speechbrain_ssdctx.pretrained.init_from_official"),
)


@dataclass(frozen=True)
class Finding:
    """A refused tag: the file, its line (1-based), the tag and why."""

    file: str
    line: int
    tag: str
    reason: str

    def message(self, what: str = "model") -> str:
        """The one-line refusal."""
        return (
            f"{self.file} line {self.line}: {_shown(self.tag)} {self._said()}; pass "
            f"trust_remote_code=True / --trust-remote-code if you trust this {what}"
        )

    def _said(self) -> str:
        return "is not allowed" if "allow-list" in self.reason else (
            f"is not allowed ({self.reason})")


def check_hparams(
    hparams: str | os.PathLike | io.StringIO,
    policy: TrustPolicy = MODEL_POLICY,
    overrides: dict | None = None,
    what: str = "model",
) -> None:
    """Refuses a HyperPyYAML file that names code outside ``policy``, building nothing.

    Arguments
    ---------
    hparams : str, os.PathLike or io.StringIO
        The file (its ``!include:`` paths are relative to its folder), or a stream whose
        ``name`` is the file's path (as
        :func:`~speechbrain_ssdctx.utils.hparams_blocks.open_hparams` gives).
    policy : TrustPolicy
        What may be built (:data:`MODEL_POLICY`, :data:`RUN_POLICY`).
    overrides : dict, optional
        The overrides the file will be loaded with.
    what : str
        What the file belongs to, for the message (``"model"``, ``"run"``).

    Raises
    ------
    UntrustedCodeError
        Naming the first refused tag and its line.

    Example
    -------
    >>> check_hparams("speechbrain_ssdctx/pretrained/aasist.yaml")
    >>> stream = io.StringIO("a: 1\\nb: !apply:os.system [echo hi]\\n")
    >>> stream.name = "hyperparams.yaml"
    >>> try:
    ...     check_hparams(stream)
    ... except UntrustedCodeError as error:
    ...     print(str(error).split(";")[0])
    hyperparams.yaml line 2: !apply:os.system is not allowed
    """
    findings = untrusted_tags(hparams, policy, overrides)
    if findings:
        raise UntrustedCodeError(findings[0].message(what))


def check_model_hparams(hparams_file: str | os.PathLike, overrides: dict | None = None) -> None:
    """Refuses a model folder's hyperparameters that name code outside :data:`MODEL_POLICY`.

    Code shipped in the folder's ``custom_interface.py`` (``!new:custom_interface.X``,
    written by ``ssdctx-export --python-module``) is refused too: it is Python that runs
    when the model loads, so it needs the same opt-in as any other code, and the message
    says to read that file first.

    Example
    -------
    >>> check_model_hparams("speechbrain_ssdctx/pretrained/aasist.yaml")
    >>> try:
    ...     check_model_hparams("tests/fixtures/exports_0.1.0/xvector-0.1.0/hyperparams.yaml")
    ... except UntrustedCodeError as error:
    ...     print(str(error).split(":")[0])
    hyperparams.yaml line 13
    """
    findings = untrusted_tags(hparams_file, MODEL_POLICY, overrides)
    if not findings:
        return
    finding = findings[0]
    if _within(finding.tag.split(":", 1)[-1], (INTERFACE_MODULE,)):
        raise UntrustedCodeError(
            f"{finding.file} line {finding.line}: {_shown(finding.tag)} is code shipped in "
            f"the model's {INTERFACE_MODULE}.py, which runs when the model loads; read that "
            "file, then pass trust_remote_code=True / --trust-remote-code if you trust it"
        )
    raise UntrustedCodeError(finding.message())


def untrusted_tags(
    hparams: str | os.PathLike | io.StringIO,
    policy: TrustPolicy = MODEL_POLICY,
    overrides: dict | None = None,
) -> list[Finding]:
    """Every refused tag of a HyperPyYAML file (see :func:`check_hparams`), building nothing.

    The resolved file (``!ref``, ``!copy`` and ``!include:`` resolved, which runs
    ``!applyref:`` functions) is only checked once the file itself passed.
    """
    text, path = _read(hparams)
    name = path.name
    findings = _file_findings(text, path, policy, set())
    if findings:
        return findings
    stream = io.StringIO(text)
    stream.name = os.fspath(path)
    try:
        resolved = resolve_references(stream, overrides or {}).getvalue()
    except Exception:  # noqa: BLE001  # the loader will report what is wrong with the file
        return []
    lines = dict(_key_lines(_compose(text)))
    return [
        Finding(name, _nearest_line(lines, keys), tag, f"{reason}, once references resolve")
        for tag, reason, keys, _ in _tree_findings(_compose(resolved), policy)
    ]


def _read(hparams) -> tuple[str, pathlib.Path]:
    if isinstance(hparams, io.StringIO):
        return hparams.getvalue(), pathlib.Path(getattr(hparams, "name", "hyperparams.yaml"))
    path = pathlib.Path(hparams)
    return path.read_text(encoding="utf-8"), path


def _file_findings(text: str, path: pathlib.Path, policy, seen: set) -> list[Finding]:
    """Refused tags of a file and of the files it includes (each read once)."""
    seen.add(path.resolve())
    findings = []
    for tag, reason, _, line in _tree_findings(_compose(text), policy):
        findings.append(Finding(path.name, line, tag, reason))
    for tag, _ in _tags(_compose(text)):
        if tag.startswith("!include:"):
            included = path.parent / tag[len("!include:"):]
            if included.is_file() and included.resolve() not in seen:
                findings += _file_findings(included.read_text(encoding="utf-8"), included,
                                           policy, seen)
    return findings


def _compose(text: str):
    """The YAML node graph of ``text`` (HyperPyYAML's parser, nothing constructed)."""
    return ruamel.yaml.YAML(typ="rt").compose(text)


def _tree_findings(root, policy) -> Iterator[tuple[str, str, tuple, int]]:
    """``(tag, reason, key path, line)`` of each refused tag under ``root``."""
    for node, keys in _walk(root, (), set()):
        tag = _tag(node)
        reason = _tag_refusal(tag, policy)
        if reason:
            yield tag, reason, keys, node.start_mark.line + 1
        value = node.value if isinstance(node.value, str) else None
        if value is not None and (tag == "!tuple" or TUPLE.match(value)):
            for inner in _tuple_tags(value):
                if _tag_refusal(inner, policy):
                    yield inner, _tag_refusal(inner, policy), keys, node.start_mark.line + 1


def _tuple_tags(value: str) -> list[str]:
    """The tags of a tuple string's content, as HyperPyYAML parses it (PyYAML)."""
    try:
        root = yaml.compose("[" + value.strip()[1:-1] + "]", Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []  # HyperPyYAML cannot parse it either
    return [tag for tag, _ in _tags(root)]


def _tags(root) -> Iterator[tuple[str, tuple]]:
    for node, keys in _walk(root, (), set()):
        yield _tag(node), keys


def _walk(node, keys: tuple, seen: set) -> Iterator[tuple[object, tuple]]:
    """Every node of a graph once (aliases followed), with the keys that lead to it."""
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    yield node, keys
    if isinstance(node.value, list):
        for index, item in enumerate(node.value):
            if isinstance(item, tuple):  # a mapping's (key, value)
                yield from _walk(item[0], keys, seen)
                yield from _walk(item[1], (*keys, _scalar(item[0])), seen)
            else:
                yield from _walk(item, (*keys, index), seen)


def _key_lines(root) -> Iterator[tuple[tuple, int]]:
    """``(key path, line)`` of every node of the file."""
    for node, keys in _walk(root, (), set()):
        yield keys, node.start_mark.line + 1


def _nearest_line(lines: dict, keys: tuple) -> int:
    """The line of the longest prefix of ``keys`` that the file itself has."""
    for end in range(len(keys), -1, -1):
        if keys[:end] in lines:
            return lines[keys[:end]]
    return 1


def _scalar(node):
    return node.value if isinstance(node.value, str) else "?"


def _shown(tag: str) -> str:
    """A tag as written (``!!python/name:os.system``, not ``tag:yaml.org,2002:...``)."""
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _tag(node) -> str:
    return str(getattr(node.tag, "value", node.tag) or "")


def _tag_refusal(tag: str, policy: TrustPolicy) -> str | None:
    """Why a node's tag is refused, or None."""
    if tag in DATA_TAGS or tag in INERT_TAGS or tag.startswith("!include:"):
        return None
    if tag.startswith("tag:yaml.org,2002:"):
        return "a Python object tag of YAML"
    for kind in (*OBJECT_TAGS, *CALL_TAGS):
        if tag.startswith(kind):
            return policy.refusal(kind, tag[len(kind):])
    return "an unknown tag"


def _within(path: str, packages) -> bool:
    return any(path == package or path.startswith(package + ".") for package in packages)


def _locate(parts: list[str], packages) -> tuple[object, str | None]:
    """The object a dotted path names, as ``pydoc.locate`` finds it (the longest importable
    module, then attributes), checking that each module passed through and the object's
    own module are in ``packages``; ``(object, None)`` or ``(None, why refused)``."""
    found, count = None, 0
    while count < len(parts):
        try:
            found = importlib.import_module(".".join(parts[: count + 1]))
        except ImportError:
            break
        count += 1
    if found is None:
        return None, "cannot be imported"
    for part in parts[count:]:
        if not hasattr(found, part):
            return None, "cannot be found"
        found = getattr(found, part)
        home = found.__name__ if isinstance(found, types.ModuleType) else None
        if home is not None and not _within(home, packages):
            return None, f"leads to the module {home}, outside the allow-list"
    home = found.__name__ if isinstance(found, types.ModuleType) else getattr(
        found, "__module__", None)
    if not isinstance(home, str) or not _within(home, packages):
        return None, f"is defined in {home}, outside the allow-list"
    return found, None
