"""Typed hyperparameters: what each recipe setting must be, checked before anything runs.

HyperPyYAML (YAML 1.2) reads ``--use_inf=no`` or ``use_ini: Ture`` as the *text* ``"no"``
/ ``"Ture"``, which Python then takes as true: the run trains with the module on. A number
given as ``--lambda_inf=abc`` fails much later in a traceback that does not name the key.
:func:`check_hparams` checks the resolved hyperparameters (references and overrides applied,
no object built) against :func:`recipe_hparams` (:data:`RECIPE_HPARAMS` and the
hyperparameters of the registry's corpora) and, for keys it does not list, against the
type of the YAML file's own value; :func:`check_overrides` refuses an override of a key the
file does not have (a typo); :func:`check_device` checks a torch device name. Each raises
:class:`HparamError` with one line naming the key, the value and what it expects.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from speechbrain_ssdctx.data.audio import EVAL_POLICIES
from speechbrain_ssdctx.data.corpora import CORPORA
from speechbrain_ssdctx.method.context import INF_VIEWS
from speechbrain_ssdctx.method.losses import KL_DIRECTIONS
from speechbrain_ssdctx.utils.distributed import AUTO, BACKENDS, BATCH_SEMANTICS, PRECISIONS

__all__ = [
    "RECIPE_HPARAMS",
    "Expect",
    "HparamError",
    "check_augmentation",
    "check_device",
    "check_hparams",
    "check_overrides",
    "corpus_hparams",
    "recipe_hparams",
]


class HparamError(ValueError):
    """A hyperparameter or run option with a wrong value; the message is one line."""


@dataclass(frozen=True)
class Expect:
    """What one hyperparameter must be.

    Arguments
    ---------
    kind : str
        ``"bool"``, ``"int"``, ``"number"`` (int or float), ``"numbers"`` (a list of
        numbers, each within the bounds), ``"str"``, ``"choice"``, ``"folder"`` (an
        existing folder: input data), ``"path"`` (an existing file or folder) or
        ``"output"`` (a folder that exists or can be created: no file in its place).
    minimum, maximum : float, optional
        Bounds of a number (inclusive unless ``open_minimum`` / ``open_maximum``).
    open_minimum, open_maximum : bool
        Exclude the bound.
    choices : tuple of str
        The allowed values of a ``"choice"``.
    nullable : bool
        Whether ``null`` (None) is allowed.
    auto : bool
        Whether the text ``auto`` is allowed too (a setting decided from the device).

    Example
    -------
    >>> Expect("number", minimum=0).check("lambda_inf", 0.1)
    >>> try:
    ...     Expect("bool").check("use_inf", "no")
    ... except HparamError as error:
    ...     print(error)
    use_inf: 'no' is not a boolean; expects True or False (YAML reads yes/no/on/off as text)
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False
    open_maximum: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    auto: bool = False

    def describe(self) -> str:
        """What is expected, in words (e.g. ``"an integer >= 1"``)."""
        return ("auto or " if self.auto else "") + self._describe_kind()

    def _describe_kind(self) -> str:
        if self.kind == "bool":
            return "True or False (YAML reads yes/no/on/off as text)"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "folder":
            return "an existing folder"
        if self.kind == "path":
            return "an existing file or folder"
        if self.kind == "output":
            return "a folder (it is created if missing)"
        words = {"int": "an integer", "number": "a number", "numbers": "a list of numbers",
                 "str": "text"}[self.kind]
        if self.kind == "numbers" and (self.minimum is not None or self.maximum is not None):
            words += ", each"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.open_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.open_maximum else '<='} {self.maximum:g}")
        return " ".join([words, " and ".join(bounds)]).strip() + (" or null" * self.nullable)

    def check(self, key: str, value, source: str = "") -> None:
        """Raises :class:`HparamError` if ``value`` is not what this expects.

        Arguments
        ---------
        key : str
            The hyperparameter's name (for the message).
        value : object
            Its resolved value.
        source : str
            Where the value comes from (``"--key=value"`` or the YAML file), for the message.
        """
        if (value is None and self.nullable) or (self.auto and value == "auto"):
            return
        problem = self._problem(value)
        if problem:
            where = f" (from {source})" if source else ""
            raise HparamError(f"{key}: {value!r}{where} {problem}; expects {self.describe()}")

    def _problem(self, value) -> str | None:
        if self.kind == "bool":
            return None if isinstance(value, bool) else "is not a boolean"
        if self.kind == "choice":
            return None if value in self.choices else "is not a known value"
        if self.kind == "str":
            return None if isinstance(value, str) else "is not text"
        if self.kind == "path":
            exists = isinstance(value, str | os.PathLike) and Path(value).expanduser().exists()
            return None if exists else "does not exist"
        if self.kind in ("folder", "output"):
            return _folder_problem(value, must_exist=self.kind == "folder")
        if self.kind == "numbers":
            if isinstance(value, str) or not isinstance(value, Sequence) or not value:
                return "is not a list of numbers"
            number = Expect("number", self.minimum, self.maximum, self.open_minimum,
                            self.open_maximum)
            return next(filter(None, map(number._problem, value)), None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"is not {'an integer' if self.kind == 'int' else 'a number'}"
        if self.kind == "int" and not isinstance(value, int):
            return "is not an integer"
        if not math.isfinite(value):
            return "is not finite"
        low, high = self.minimum, self.maximum
        if low is not None and (value < low or (self.open_minimum and value == low)):
            return "is out of range"
        if high is not None and (value > high or (self.open_maximum and value == high)):
            return "is out of range"
        return None


def _folder_problem(value, must_exist: bool) -> str | None:
    if not isinstance(value, str | os.PathLike):
        return "is not a path"
    path = Path(value).expanduser()
    if path.is_dir():
        return None
    if path.exists():
        return "is a file, not a folder"
    if must_exist:
        return "does not exist"
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    return f"cannot be created: {blocking} is a file" if blocking else None


_INT_POSITIVE = Expect("int", minimum=1)
_POSITIVE = Expect("number", minimum=0, open_minimum=True)
_NON_NEGATIVE = Expect("number", minimum=0)
_BOOL = Expect("bool")
_OUTPUT = Expect("output")

#: The recipes' hyperparameters and what each must be (keys a file lacks are skipped),
#: except those of the corpora (:func:`corpus_hparams`).
RECIPE_HPARAMS: dict[str, Expect] = {
    "seed": Expect("int"),
    "experiment_name": Expect("str"),
    "output_folder": _OUTPUT,
    "save_folder": _OUTPUT,
    "manifest_folder": _OUTPUT,
    "skip_missing_audio": _BOOL,
    "allow_single_class": _BOOL,
    "max_utterances_per_class": Expect("int", minimum=1, nullable=True),
    "train_corpora_samples": Expect("int", minimum=1, nullable=True),
    "sample_rate": _INT_POSITIVE,
    "train_seconds": _POSITIVE,
    "eval_window": Expect("choice", choices=EVAL_POLICIES),
    "eval_seconds": _POSITIVE,
    "number_of_epochs": _INT_POSITIVE,
    "average_checkpoints": Expect("int", minimum=0),
    "average_by": Expect("choice", choices=("best", "last")),
    "batch_size": _INT_POSITIVE,
    "eval_batch_size": _INT_POSITIVE,
    # Multi-GPU and precision (speechbrain_ssdctx.utils.distributed, docs/multi_gpu.md).
    "batch_semantics": Expect("choice", choices=BATCH_SEMANTICS),
    "grad_accumulation_factor": _INT_POSITIVE,
    "distributed_backend": Expect("choice", choices=(AUTO, *BACKENDS)),
    "sync_batchnorm": Expect("bool", auto=True),
    "find_unused_parameters": _BOOL,
    "precision": Expect("choice", choices=(AUTO, *PRECISIONS)),
    "eval_precision": Expect("choice", choices=(AUTO, *PRECISIONS)),
    "pin_memory": Expect("bool", auto=True),
    "drop_last": _BOOL,
    "class_weights": Expect("numbers", minimum=0, open_minimum=True, nullable=True),
    "lr": _POSITIVE,
    "lr_halving_epochs": _INT_POSITIVE,
    "num_workers": Expect("int", minimum=0, auto=True),
    "max_grad_norm": _POSITIVE,
    "cpu_retain_freed_memory": _BOOL,
    "use_inf": _BOOL,
    "use_ini": _BOOL,
    "lambda_inf": _NON_NEGATIVE,
    "lambda_ini": _NON_NEGATIVE,
    "kl_direction": Expect("choice", choices=KL_DIRECTIONS),
    "inf_views": Expect("choice", choices=INF_VIEWS),
    "bank_size": _INT_POSITIVE,
    "momentum": Expect("number", minimum=0, maximum=1, open_maximum=True),
    "temperature": _POSITIVE,
    "n_mels": _INT_POSITIVE,
    "embedding_dim": _INT_POSITIVE,
    "channels": _INT_POSITIVE,
    "variant": Expect("choice", choices=("AASIST", "AASIST-L")),
    "init_from": Expect("str", nullable=True),
    "weight_decay": _NON_NEGATIVE,
    "rawboost": _BOOL,
    "rawboost_algorithm": Expect("int", minimum=0, maximum=8),
    "rawboost_probability": Expect("number", minimum=0, maximum=1),
    "codec": _BOOL,
    "codec_probability": Expect("number", minimum=0, maximum=1),
    "noise": _BOOL,
    "noise_csv": Expect("path", nullable=True),
    "noise_snr_low": Expect("number"),
    "noise_snr_high": Expect("number"),
    "noise_probability": Expect("number", minimum=0, maximum=1),
    "reverb": _BOOL,
    "rir_csv": Expect("path", nullable=True),
    "reverb_probability": Expect("number", minimum=0, maximum=1),
    "freeze_ssl": _BOOL,
    "gradient_checkpointing": _BOOL,
}


def corpus_hparams() -> dict[str, Expect]:
    """What the hyperparameters of the registry's corpora must be: a data folder (or null)
    for the one pointing to a corpus, an existing file or folder (or null) for the options
    of its preparer; a list of files (``per_file``) keeps the type of the YAML's value.

    Example
    -------
    >>> corpus_hparams()["asvspoof5_folder"].describe()
    'an existing folder'
    >>> corpus_hparams()["la2021_keys"].kind
    'path'
    """
    expected = {}
    for corpus in CORPORA.values():
        if corpus.hparam is not None and not corpus.per_file:
            expected[corpus.hparam] = Expect("folder", nullable=True)
        for hparam in corpus.options.values():
            expected[hparam] = Expect("path", nullable=True)
    return expected


def recipe_hparams() -> dict[str, Expect]:
    """:data:`RECIPE_HPARAMS` and :func:`corpus_hparams`: every key the recipes check."""
    return {**RECIPE_HPARAMS, **corpus_hparams()}


def _scalar_kind(value) -> str | None:
    """The ``Expect`` kind a file's own value declares (None: anything goes)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    return None


def check_hparams(
    values: Mapping,
    defaults: Mapping | None = None,
    overridden: Iterable[str] = (),
    expected: Mapping[str, Expect] | None = None,
    source: str = "",
) -> None:
    """Checks resolved top-level hyperparameters; :class:`HparamError` names the first bad one.

    Arguments
    ---------
    values : Mapping
        The resolved hyperparameters (overrides applied), e.g. from
        ``hyperpyyaml.resolve_references`` loaded with ruamel: no object is built.
    defaults : Mapping, optional
        The same file without overrides: a key not in ``expected`` must keep the type of
        its value there (a boolean stays a boolean, a number a number).
    overridden : iterable of str
        Keys given on the command line (named as ``--key=value`` in messages).
    expected : Mapping of str to Expect, optional
        Default: :func:`recipe_hparams`.
    source : str
        The YAML file, for messages about its own values.

    Example
    -------
    >>> check_hparams({"use_inf": True, "lambda_inf": 0.1})
    >>> def show(*args, **kwargs):
    ...     try:
    ...         check_hparams(*args, **kwargs)
    ...     except HparamError as error:
    ...         print(error)
    >>> show({"lambda_inf": "abc"}, overridden=["lambda_inf"])
    lambda_inf: 'abc' (from --lambda_inf=abc) is not a number; expects a number >= 0
    >>> show({"masks": 2.5}, defaults={"masks": 2})
    masks: 2.5 is not an integer; expects an integer (the type of its value in the YAML file)
    """
    expected = recipe_hparams() if expected is None else expected
    overridden = set(overridden)
    for key, value in values.items():
        where = f"--{key}={value}" if key in overridden else source
        if key in expected:
            expected[key].check(key, value, where)
            continue
        kind = _scalar_kind((defaults or {}).get(key))
        if kind is None or value is None:
            continue
        declared = Expect(kind)
        problem = declared._problem(value)
        if problem:
            origin = f" (from {where})" if key in overridden else ""
            raise HparamError(
                f"{key}: {value!r}{origin} {problem}; expects {declared.describe()} "
                "(the type of its value in the YAML file)"
            )


#: Augmentation switches and the key each needs set when it is on (blocks/augmentation.yaml).
SWITCH_NEEDS: dict[str, tuple[str, str]] = {
    "noise": ("noise_csv", "an AddNoise CSV (prepare_musan)"),
    "reverb": ("rir_csv", "an AddReverb CSV (prepare_rirs_noises)"),
}


def check_augmentation(values: Mapping, overridden: Iterable[str] = ()) -> None:
    """Checks the augmentation block's keys together: a switch on whose file is null, a
    codec list that does not parse, an SNR range upside down; :class:`HparamError`.

    Example
    -------
    >>> check_augmentation({"noise": False, "noise_csv": None})
    >>> try:
    ...     check_augmentation({"noise": True, "noise_csv": None}, overridden=["noise"])
    ... except HparamError as error:
    ...     print(error)
    noise_csv: null but --noise=True needs it; expects an AddNoise CSV (prepare_musan)
    """
    overridden = set(overridden)
    for switch, (key, what) in SWITCH_NEEDS.items():
        if values.get(switch) is True and values.get(key) is None:
            where = f"--{switch}=True" if switch in overridden else f"{switch}: True"
            raise HparamError(f"{key}: null but {where} needs it; expects {what}")
    if values.get("codec") is True:
        from speechbrain_ssdctx.augment.codec import CodecSetting

        codecs = values.get("codec_list")
        if isinstance(codecs, str) or not isinstance(codecs, Sequence) or not codecs:
            raise HparamError(f"codec_list: {codecs!r} is not a list of codecs")
        for codec in codecs:
            try:
                CodecSetting.parse(str(codec))
            except ValueError as error:
                raise HparamError(f"codec_list: {error}") from None
    low, high = values.get("noise_snr_low"), values.get("noise_snr_high")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        raise HparamError(f"noise_snr_low: {low} is above noise_snr_high ({high})")


def check_overrides(overridden: Iterable[str], known: Iterable[str], hparams_file: str) -> None:
    """Refuses an override of a key that the YAML file does not define (a typo).

    Example
    -------
    >>> try:
    ...     check_overrides(["use_inff"], ["use_inf", "use_ini"], "lcnn.yaml")
    ... except HparamError as error:
    ...     print(error)
    --use_inff: lcnn.yaml has no such hyperparameter (did you mean use_inf?)
    """
    known = list(known)
    for key in overridden:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise HparamError(f"--{key}: {hparams_file} has no such hyperparameter{hint}")


def check_device(name: str) -> torch.device:
    """A torch device that exists on this machine, or :class:`HparamError`.

    Example
    -------
    >>> check_device("cpu")
    device(type='cpu')
    >>> try:
    ...     check_device("banana")
    ... except HparamError as error:
    ...     print(error)
    device: 'banana' is not a torch device; expects cpu, cuda, cuda:N or mps
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise HparamError(
            f"device: {name!r} is not a torch device; expects cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise HparamError(f"device: {name!r} but torch sees no CUDA GPU here; use cpu")
        if device.index is not None and device.index >= count:
            raise HparamError(
                f"device: {name!r} but torch sees {count} GPU(s) (cuda:0 to cuda:{count - 1})"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise HparamError(f"device: {name!r} but MPS is not available here; use cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise HparamError(f"device: {name!r} is not supported; expects cpu, cuda, cuda:N or mps")
    return device
