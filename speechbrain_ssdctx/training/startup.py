"""The start of a training recipe: arguments checked, the demo schedule, one-line user errors.

``recipes/train.py`` calls :func:`start_recipe` with its command line. Before any model,
data or process group exists it checks the overrides (no unknown key), every typed
hyperparameter (``speechbrain_ssdctx.training.typed_hparams``) and the device; then, when no
training corpus of the registry is given (``data_folder`` and ``asvspoof5_folder`` null:
``speechbrain_ssdctx.data.corpora.training_corpus``), it applies the
YAML's ``demo_schedule`` (the bundled demo corpus would take most of an hour on the
paper's schedule) to every key the command line does not set, and says so.
:func:`report_user_errors` turns the mistakes a user makes (a bad override, missing data,
a bad device, an unusable checkpoint) into one line on stderr (exit status 1);
``--traceback`` or ``SSDCTX_TRACEBACK=1`` shows the traceback instead.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import ruamel.yaml
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml, resolve_references

from speechbrain_ssdctx.data.asvspoof import ProtocolError
from speechbrain_ssdctx.data.audio import AudioFileError
from speechbrain_ssdctx.data.corpora import DEMO, training_corpus
from speechbrain_ssdctx.data.mixture import MixtureError
from speechbrain_ssdctx.evaluation.report import set_title
from speechbrain_ssdctx.training.checkpoints import CheckpointError
from speechbrain_ssdctx.training.run_lock import RunLock, RunLockedError
from speechbrain_ssdctx.training.typed_hparams import (
    HparamError,
    check_augmentation,
    check_device,
    check_hparams,
    check_overrides,
)
from speechbrain_ssdctx.utils.distributed import resolve_run_options
from speechbrain_ssdctx.utils.hparams_blocks import BlockError, open_hparams, save_hparams

__all__ = [
    "DEMO_KEY", "TRACEBACK_ENV", "RecipeStart", "is_demo_run",
    "UserErrors", "report_user_errors", "run_hparams", "run_value", "start_recipe",
]

logger = logging.getLogger(__name__)

#: Environment variable that makes :func:`report_user_errors` show tracebacks.
TRACEBACK_ENV = "SSDCTX_TRACEBACK"

#: The YAML key holding the schedule of a run on the bundled demo corpus.
DEMO_KEY = "demo_schedule"

#: Errors that are a user's mistake (a file, a folder, a value): one line, no traceback.
USER_ERRORS = (
    HparamError, CheckpointError, AudioFileError, ProtocolError, OSError,
    ruamel.yaml.YAMLError, BlockError, RunLockedError, MixtureError,
)


class UserErrors:
    """Used as ``with report_user_errors("train.py"):``: a user mistake raised inside
    prints one line and exits 1, whatever ``sys.excepthook`` is by then (SpeechBrain's
    ``create_experiment_directory`` replaces it with one that logs a traceback).

    Arguments
    ---------
    program : str
        The program name that starts the line.

    Example
    -------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     try:
    ...         with UserErrors("train.py"):
    ...             raise HparamError("lr: -1 is not > 0")
    ...     except SystemExit as stop:
    ...         print(stop.code)
    1
    >>> err.getvalue().split(" (set")[0]
    'train.py: error: lr: -1 is not > 0'
    """

    def __init__(self, program: str):
        self.program = program

    def __enter__(self) -> UserErrors:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None and issubclass(kind, USER_ERRORS) and not traceback_requested():
            print(one_line_error(self.program, error), file=sys.stderr)
            raise SystemExit(1)


def report_user_errors(program: str) -> UserErrors:
    """Makes an uncaught user mistake print one line (and exit 1) instead of a traceback.

    Installs a ``sys.excepthook`` for :data:`USER_ERRORS`; other exceptions (bugs) keep
    their traceback, and ``--traceback`` / ``SSDCTX_TRACEBACK=1`` keeps every traceback.
    SpeechBrain's ``create_experiment_directory`` replaces ``sys.excepthook``: a recipe
    keeps the one line after it by running inside the returned context,
    ``with report_user_errors("train.py"): ...`` (as ``recipes/train.py`` does).

    Arguments
    ---------
    program : str
        The program name that starts the line.

    Returns
    -------
    UserErrors
        A context manager doing the same for what is raised inside it.
    """
    default = sys.excepthook

    def hook(kind, error, traceback):
        if issubclass(kind, USER_ERRORS) and not traceback_requested():
            print(one_line_error(program, error), file=sys.stderr)
        else:
            default(kind, error, traceback)

    sys.excepthook = hook
    return UserErrors(program)


def traceback_requested() -> bool:
    """Whether ``--traceback`` was given or ``SSDCTX_TRACEBACK`` is set (not to 0)."""
    return os.environ.get(TRACEBACK_ENV, "") not in ("", "0")


def one_line_error(program: str, error: BaseException) -> str:
    """``program: error: <message on one line> (...)`` for a user's mistake.

    Example
    -------
    >>> print(one_line_error("train.py", HparamError("use_inf: 'no' is not a boolean")))
    train.py: error: use_inf: 'no' is not a boolean (set SSDCTX_TRACEBACK=1 for the traceback)
    """
    message = " ".join(str(error).split()) or type(error).__name__
    return f"{program}: error: {message} (set {TRACEBACK_ENV}=1 for the traceback)"


@dataclass
class RecipeStart:
    """What :func:`start_recipe` prepared.

    Arguments
    ---------
    hparams_file : str
        The YAML file.
    run_opts : dict
        SpeechBrain's run options.
    overrides : dict
        The command line's overrides plus the demo schedule's (what ran: saved with the run).
    hparams : dict
        The loaded hyperparameters (objects built).
    demo : dict
        The demo schedule's values applied (empty: not a demo run).
    lock : RunLock or None
        The output folder's lock, held by the main process for the whole run.
    """

    hparams_file: str
    run_opts: dict
    overrides: dict
    hparams: dict
    demo: dict = field(default_factory=dict)
    lock: RunLock | None = None
    started: float = field(default_factory=time.monotonic)

    def save_hparams(self) -> None:
        """Writes ``hyperparams.yaml`` (the hyperparameters as run) into the output folder.

        What ``sb.create_experiment_directory(hyperparams_to_save=...)`` writes, of the YAML
        with its blocks merged (``speechbrain_ssdctx.utils.hparams_blocks``); main process only.
        """
        if sb.utils.distributed.if_main_process():
            saved = os.path.join(self.hparams["output_folder"], "hyperparams.yaml")
            save_hparams(self.hparams_file, self.overrides, saved)

    def announce(self) -> None:
        """Logs, loudly, that this is a demo run and what changed (once logging is set up)."""
        if self.demo:
            changes = ", ".join(f"{key}={value}" for key, value in self.demo.items())
            logger.warning(
                "No data_folder or asvspoof5_folder given: this is a DEMO on the bundled "
                "demo corpus, with the demo_schedule of %s (%s) instead of the paper's "
                "settings. To train on "
                "ASVspoof 2019 LA: python recipes/train.py %s --data_folder=/path/to/LA",
                self.hparams_file, changes, self.hparams_file,
            )

    def summary(self, results: dict) -> str:
        """What a demo run did and how to train on ASVspoof ('' for other runs)."""
        if not self.demo:
            return ""
        minutes = (time.monotonic() - self.started) / 60
        eers = ", ".join(
            f"{set_title(name, demo=True)} EER {report['eer']:.1f}%"
            for name, report in results.items()
        )
        return (
            f"\nDemo finished in {minutes:.1f} min: {self.hparams['experiment_name']} trained "
            f"{self.hparams['number_of_epochs']} epochs on the bundled demo corpus "
            f"(a few dozen utterances; {eers}). Outputs: {self.hparams['output_folder']}.\n"
            "These numbers only show that the pipeline runs; they say nothing about "
            "ASVspoof. Another seed, CPU or thread count gives others (over 10 runs: "
            "demo dev 10.6-21.1%, demo eval 16.4-27.0%; recipes/README.md). To train "
            "with the paper's schedule on ASVspoof 2019 LA:\n"
            f"    python recipes/train.py {self.hparams_file} --data_folder=/path/to/LA\n"
            "(add --la2021_folder=... --la2021_keys=... for 2021 LA; see "
            "recipes/README.md)."
        )


def start_recipe(argv: Sequence[str]) -> RecipeStart:
    """Parses and checks a recipe's command line, applies the demo schedule, loads the YAML.

    Arguments
    ---------
    argv : sequence of str
        ``hparams_file`` and ``--key=value`` overrides / SpeechBrain run options, plus
        ``--traceback`` (show tracebacks of user errors).

    Returns
    -------
    RecipeStart

    Raises
    ------
    HparamError
        An unknown override key, a wrongly typed value or a bad device.
    RunLockedError
        Another run writes the output folder (the main process holds its lock: see
        :class:`~speechbrain_ssdctx.training.run_lock.RunLock`).

    Example
    -------
    >>> start = start_recipe(["hparams/lcnn_inf_ini.yaml", "--output_folder=/tmp/demo"])
    >>> start.demo["number_of_epochs"], start.hparams["number_of_epochs"]
    (8, 8)
    """
    argv = list(argv)
    if "--traceback" in argv:
        argv.remove("--traceback")
        os.environ[TRACEBACK_ENV] = "1"
    hparams_file, run_opts, override_text = sb.parse_arguments(argv)
    user = _parse_overrides(override_text)
    tree, overrides, demo = _resolve_run(hparams_file, user)
    check_augmentation(tree, overridden=user)  # a run needs the files (an inspection not)
    if run_opts.get("device") is not None:  # None: SpeechBrain's default (cpu)
        check_device(run_opts["device"])
    try:  # the YAML's multi-GPU and precision "auto" settled (the command line wins)
        run_opts = resolve_run_options(run_opts, tree)
    except ValueError as error:
        raise HparamError(str(error)) from None
    sb.utils.distributed.ddp_init_group(run_opts)
    lock = None
    if sb.utils.distributed.if_main_process():  # one run per output folder
        lock = RunLock(tree["output_folder"]).acquire()
    hparams = load_hyperpyyaml(open_hparams(hparams_file), overrides)  # blocks merged
    return RecipeStart(hparams_file, run_opts, overrides, hparams, demo, lock)


def run_hparams(hparams_file: str | os.PathLike, overrides: Sequence[str] | str = ()) -> dict:
    """The YAML's top level as the recipe would run it, references resolved, no object built.

    The overrides are checked (no unknown key, typed values) and applied, then the demo
    schedule when no training corpus is given, as :func:`start_recipe` does.

    Arguments
    ---------
    hparams_file : str or path-like
        The YAML file.
    overrides : sequence of str or str
        ``--key=value`` arguments, or the override text ``sb.parse_arguments`` returns.

    Returns
    -------
    dict

    Example
    -------
    >>> run_hparams("hparams/lcnn.yaml", ["--demo_schedule=null"])["eval_seconds"]
    6.0
    """
    if not isinstance(overrides, str):
        _, _, overrides = sb.parse_arguments([os.fspath(hparams_file), *overrides])
    return _resolve_run(os.fspath(hparams_file), _parse_overrides(overrides))[0]


def run_value(hparams_file: str | os.PathLike, key: str, override_args: Sequence[str] = ()):
    """A top-level value as the recipe would run it (:func:`run_hparams`).

    Arguments
    ---------
    hparams_file : str or path-like
        The YAML file.
    key : str
        A top-level key (e.g. ``output_folder``).
    override_args : sequence of str
        ``--key=value`` overrides.

    Example
    -------
    >>> run_value("hparams/lcnn.yaml", "output_folder", ["--seed=3"])
    'results/demo/lcnn/3'
    >>> run_value("hparams/lcnn.yaml", "output_folder", ["--seed=3", "--demo_schedule=null"])
    'results/lcnn/3'
    """
    return run_hparams(hparams_file, override_args)[key]


def _resolve_run(hparams_file: str, user: dict) -> tuple[dict, dict, dict]:
    """The checked resolved top level, the overrides to load with, the demo values."""
    defaults = _resolve(hparams_file, {})
    check_overrides(user, defaults, hparams_file)
    tree = _resolve(hparams_file, user)
    demo = _demo_values(tree, user, hparams_file)
    overrides = {**demo, **user}
    if demo:
        tree = _resolve(hparams_file, overrides)
    check_hparams(tree, defaults, overridden=user, source=hparams_file)
    return tree, overrides, demo


def _parse_overrides(text: str) -> dict:
    """The ``key: value`` overrides SpeechBrain's parser returns, as a mapping."""
    if not text or not text.strip():
        return {}
    try:
        parsed = ruamel.yaml.YAML(typ="safe", pure=True).load(text)  # plain types, YAML 1.2
    except ruamel.yaml.YAMLError as error:
        raise HparamError(f"cannot read the overrides {text!r}: {error}") from None
    return dict(parsed or {})


def _resolve(hparams_file: str, overrides: dict) -> dict:
    """The file's top level with references resolved and overrides applied (no object built)."""
    text = resolve_references(open_hparams(hparams_file), overrides).getvalue()
    return dict(ruamel.yaml.YAML().load(io.StringIO(text)) or {})


def is_demo_run(hparams) -> bool:
    """Whether a run trains on the bundled demo corpus (no training corpus folder given).

    Example
    -------
    >>> is_demo_run({"data_folder": None}), is_demo_run({"data_folder": "/data/LA"})
    (True, False)
    """
    return training_corpus(hparams).name == DEMO


def _demo_values(tree: dict, user: dict, hparams_file: str) -> dict:
    """The demo schedule's values for the keys the user did not set, if no data is given."""
    schedule = tree.get(DEMO_KEY) or {}
    if not is_demo_run(tree) or not schedule:
        return {}
    unknown = [key for key in schedule if key not in tree or key == DEMO_KEY]
    if unknown:
        raise HparamError(
            f"{DEMO_KEY}: {hparams_file} has no hyperparameter {', '.join(unknown)}"
        )
    return {key: value for key, value in schedule.items() if key not in user}
