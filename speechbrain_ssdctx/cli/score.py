"""``ssdctx-score``: score audio files with a spoofing detector.

Examples
--------
Score a folder (recursively) with the bundled official AASIST::

    ssdctx-score --model aasist my_audio/ --out scores.txt

Score an exported model folder or a HuggingFace model on ASVspoof files and print
the EER (and min t-DCF, breakdowns) against a protocol, as ``ssdctx-eval`` does::

    ssdctx-score --model exported/ LA/ASVspoof2019_LA_eval/flac \\
        --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt

Score hour-long recordings in 4 s windows every 2 s, with each window's score::

    ssdctx-score --model exported/ podcasts/ --window sliding --window-seconds 4 \\
        --hop-seconds 2 --window-scores windows.tsv --out scores.txt

Output: one ``utt_id score`` line per file (the utterance id is the file name without
its extension; the ASVspoof score file format), or with ``--format tsv`` a header and
``utt_id<TAB>score<TAB>path`` lines. Higher scores mean more likely bona fide.

A batch tool: every readable file is scored and every good score written; a file that
cannot be scored (unreadable, empty, NaN or infinite samples, a non-finite score) is
reported on stderr and in a side file (``<out>.failed.tsv``: path and reason), and the
exit status is 1. ``--strict`` stops at the first such file instead, writing nothing. A
file scored despite a problem (samples far outside [-1, 1]) is reported on stderr and in
``<out>.warnings.tsv`` (path and warning).
Arguments, utterance ids and output paths are checked before the model is loaded.

An input that is ``-`` (stdin), a pipe or a process substitution is a list of audio files
and folders, one per line: ``find data -name '*.flac' | ssdctx-score - --model aasist``.

With ``--out``, each score is written as it is computed, to ``<out>.partial``, which
becomes ``<out>`` when every file is done: ``<out>`` never looks complete when it is not.
Stopped by Ctrl-C (SIGINT) or SIGTERM, the run keeps the scores computed so far in
``<out>.partial``, says ``interrupted: kept N of M scores`` and exits 130 (143 for
SIGTERM); the same command with ``--resume`` scores only the files not in it.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import pathlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from tqdm import tqdm

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.inputs import check_one_stdin
from speechbrain_ssdctx.cli.outputs import check_not_inputs
from speechbrain_ssdctx.data.audio_files import find_audio, utterance_ids
from speechbrain_ssdctx.evaluation.evaluate import (
    asv_operating_point_of,
    evaluate_scores,
    official_c012,
    read_key,
)
from speechbrain_ssdctx.evaluation.report import results_markdown
from speechbrain_ssdctx.evaluation.scores import PARTIAL_SUFFIX, ScoreWriter
from speechbrain_ssdctx.training.typed_hparams import HparamError, check_device
from speechbrain_ssdctx.utils.atomic import atomic_open

#: Suffix of the default side file listing the files that failed.
FAILED_SUFFIX = ".failed.tsv"

#: Suffix of the default side file listing the warnings about files that were scored.
WARNINGS_SUFFIX = ".warnings.tsv"

#: The rate of the bundled models and the recipes; another one is stated.
USUAL_SAMPLE_RATE = 16000

#: Suffixes of the files of ONNX / TorchScript exports (``--model OUT_DIR/<name>.onnx``).
PORTABLE_SUFFIXES = (".onnx", ".pt")

#: Exit status of a run stopped by a signal, as shells report it (128 + signal number).
INTERRUPTED_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(Exception):
    """Scoring stopped by SIGINT or SIGTERM (``signum``)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While scoring, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, stop) for signum in INTERRUPTED_STATUS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class UsageError(ValueError):
    """A mistake in the arguments, found before any model runs."""


def check_output(path: str | os.PathLike, what: str, inputs: Sequence[str]) -> pathlib.Path:
    """An output file that can be written and replaces no input; else :class:`UsageError`.

    Example
    -------
    >>> check_output(".", "--out", [])
    Traceback (most recent call last):
      ...
    speechbrain_ssdctx.cli.score.UsageError: --out '.' is a folder; give a file name
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise UsageError(f"{what} '{path}' is a folder; give a file name")
    if any(path.resolve() == pathlib.Path(p).resolve() for p in inputs):
        raise UsageError(f"{what} '{path}' is one of the audio files to score")
    parent = next(p for p in [path.parent, *path.parent.parents] if p.exists() or p == p.parent)
    if not parent.is_dir():
        raise UsageError(f"{what} '{path}' cannot be created: '{parent}' is a file")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{what} '{path}' is not writable")
    return path


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def write_failures(path: str | os.PathLike, failures: Sequence[tuple[str, str]]) -> None:
    """Writes the ``path``, ``reason`` of every file that failed (TSV with a header)."""
    with atomic_open(path, newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "reason"])
        writer.writerows((p, " ".join(reason.split())) for p, reason in failures)


def write_warnings(path: str | os.PathLike, warnings: Sequence[tuple[str, str]]) -> None:
    """Writes the ``path``, ``warning`` of every file scored despite a problem (TSV)."""
    with atomic_open(path, newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "warning"])
        writer.writerows((p, " ".join(warning.split())) for p, warning in warnings)


def write_window_scores(path: str | os.PathLike, rows: Sequence[tuple]) -> None:
    """Writes ``utt_id``, ``start``, ``end`` (seconds), ``score``, ``path`` per window."""
    with atomic_open(path, newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(["utt_id", "start", "end", "score", "path"])
        writer.writerows(rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-score``."""
    parser = argparse.ArgumentParser(
        prog="ssdctx-score",
        description="Score audio files with a synthetic speech detector "
        "(higher score = more likely bona fide).",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="bundled model (aasist, aasist-l; these names win over folders of the same "
        "name: write ./aasist for a folder), exported model folder, HuggingFace id, or the "
        "<name>.onnx / <name>.pt file of ssdctx-export --format onnx|torchscript",
    )
    parser.add_argument("inputs", nargs="+", help="audio files and folders (searched "
                        "recursively); '-' or a pipe: a list of them, one per line")
    parser.add_argument("--out", help="score file to write (default: print to stdout)")
    parser.add_argument("--resume", action="store_true",
                        help=f"keep the scores of an interrupted run (<out>{PARTIAL_SUFFIX}) "
                        "and score only the other files")
    parser.add_argument(
        "--format",
        choices=("txt", "tsv"),
        default="txt",
        help="txt: 'utt_id score' lines; tsv: utt_id, score, path columns with a header",
    )
    parser.add_argument(
        "--failed",
        help=f"where to list the files that failed (default: <out>{FAILED_SUFFIX} with --out)",
    )
    parser.add_argument(
        "--warnings",
        help="where to list the files scored with a warning (default: "
        f"<out>{WARNINGS_SUFFIX} with --out)",
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="stop at the first file that cannot be scored, writing no score file",
    )
    parser.add_argument("--protocol", help="ASVspoof protocol / key file: also print the EER")
    parser.add_argument("--asv-scores", help="ASVspoof 2019 ASV scores: also print min t-DCF")
    parser.add_argument(
        "--batch-size", type=positive_int, default=1, help="windows per forward pass (>= 1)"
    )
    window = parser.add_argument_group("windows (default: the model's policy; 'full' -> sliding)")
    window.add_argument(
        "--window", choices=("official", "first", "sliding", "full"),
        help="official / first: the start of each file; sliding: windows over the whole "
        "file in bounded memory; full: the whole file in one pass (memory grows with length)",
    )
    window.add_argument("--window-seconds", type=positive_float, help="sliding window length")
    window.add_argument("--hop-seconds", type=positive_float, help="sliding window hop")
    window.add_argument(
        "--aggregate", choices=("mean", "min", "max"),
        help="a file's logits: mean over windows, or the window with the min / max score",
    )
    window.add_argument("--window-scores", help="also write each window's score (TSV)")
    parser.add_argument("--savedir", help="where to keep files of a HuggingFace model")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0")
    parser.add_argument("--trust-remote-code", action="store_true", help="build whatever "
                        "the model's hyperparams.yaml names (only for models you trust)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-score``; returns the exit status (1 if any file failed or on errors)."""
    args = parse_args(argv)
    try:
        return score(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:  # UsageError, AudioFileError, ProtocolError, ...
        print(f"ssdctx-score: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1


def score(args: argparse.Namespace) -> int:
    """Scores the files of parsed ``ssdctx-score`` arguments and writes the results.

    Returns
    -------
    int
        0 if every file was scored, 1 if any failed.
    """
    plan = _check_arguments(args)
    from speechbrain_ssdctx.inference.spoof_detector import (
        SpoofDetector,  # after the checks: it is slow
    )

    if pathlib.Path(args.model).suffix in PORTABLE_SUFFIXES:  # an ONNX / TorchScript export
        from speechbrain_ssdctx.inference.portable_detector import PortableSpoofDetector

        detector = PortableSpoofDetector.from_file(args.model, device=args.device)
    else:
        detector = SpoofDetector.from_hparams(
            args.model, savedir=args.savedir, run_opts={"device": args.device},
            trust_remote_code=args.trust_remote_code,
        )
    detector.set_window(args.window, args.window_seconds, args.hop_seconds, args.aggregate)
    if detector.settings.sample_rate != USUAL_SAMPLE_RATE:
        print(f"ssdctx-score: note: this model scores audio at {detector.settings.sample_rate} "
              "Hz (its hyperparams.yaml says so); every file is resampled to that rate",
              file=sys.stderr)
    writer = ScoreWriter(args.out, args.format, args.resume) if args.out else None
    done = writer.done if writer else {}
    keys = plan.files if args.format == "tsv" else plan.ids
    scores = {index: done[key] for index, key in enumerate(keys) if key in done}
    todo = [index for index in range(len(plan.files)) if keys[index] not in done]
    if scores:
        print(f"ssdctx-score: resuming: {len(scores)} of {len(plan.files)} files scored "
              f"already ({writer.partial})", file=sys.stderr)
    failures: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    windows: list[tuple] = []
    progress = tqdm(
        total=len(todo), unit="file", desc="scoring", disable=args.no_progress,
        file=sys.stderr,
    )
    try:
        with stop_on_signals():
            status = _score_files(args, plan, detector, todo, writer, progress,
                                  (scores, failures, warnings, windows))
    except Interrupted as stop:
        progress.close()
        if writer:
            writer.close(complete=False)
        _write_outputs(args, plan, scores, failures, windows, writer and writer.partial)
        _write_warnings(args, plan, warnings)
        kept = f" in {writer.partial} (--resume scores the rest)" if writer else ""
        print(f"ssdctx-score: interrupted ({stop}): kept {len(scores)} of {len(plan.files)} "
              f"scores{kept}", file=sys.stderr)
        return INTERRUPTED_STATUS[stop.signum]
    progress.close()
    if status is not None:
        if writer:
            writer.close(complete=False)
            if not done:
                writer.partial.unlink()  # --strict writes no score file
        return status
    if writer:
        writer.close(complete=True)
    _write_outputs(args, plan, scores, failures, windows)
    _write_warnings(args, plan, warnings)
    if plan.key is not None and scores:
        scored = {plan.ids[i]: value for i, value in scores.items()}
        print(protocol_report(scored, *plan.key, plan.asv, args))
    return 1 if failures else 0


def _score_files(args, plan, detector, todo, writer, progress, collected) -> int | None:
    """Scores ``plan.files[todo]``, writing each score; 1 at a failure with ``--strict``."""
    scores, failures, warnings, windows = collected
    results = detector.score_each(
        [plan.files[i] for i in todo], batch_size=args.batch_size,
        window_scores=bool(args.window_scores),
    )
    for index, result in zip(todo, results, strict=False):
        progress.update()
        if result.error is not None:
            failures.append((result.path, result.error))
            progress.write(f"ssdctx-score: failed: {result.error}", file=sys.stderr)
            if args.strict:
                print("ssdctx-score: stopped at the first failure (--strict); nothing written",
                      file=sys.stderr)
                return 1
            continue
        utt = plan.ids[index]
        if writer:
            writer.add(utt, result.score, result.path)
        scores[index] = result.score
        for warning in result.warnings:
            warnings.append((result.path, warning))
            progress.write(f"ssdctx-score: warning: {warning}", file=sys.stderr)
        windows += [(utt, w.start, w.end, repr(w.score), result.path) for w in result.windows or []]
        if not args.out:
            line = f"{utt}\t{result.score!r}\t{result.path}" if args.format == "tsv" else (
                f"{utt} {result.score!r}")
            progress.write(line, file=sys.stdout)
    return None


class _Plan:
    """What the checks of the arguments produced."""

    def __init__(self, files, ids, key, asv, failed, warned):
        self.files, self.ids, self.key, self.asv, self.failed = files, ids, key, asv, failed
        self.warned = warned  # where the warnings go


def _check_arguments(args: argparse.Namespace) -> _Plan:
    """Everything that can be checked before the model is loaded."""
    try:
        check_device(args.device)
    except HparamError as error:
        raise UsageError(f"--{error}") from None
    check_one_stdin({"inputs": args.inputs, "--protocol": args.protocol,
                     "--asv-scores": args.asv_scores})
    files = find_audio(args.inputs)
    unique = args.format == "txt" or bool(args.protocol)
    ids = utterance_ids(files, unique=unique, spaces=args.format == "tsv" and not args.protocol)
    failed = args.failed or (f"{args.out}{FAILED_SUFFIX}" if args.out else None)
    warned = args.warnings or (f"{args.out}{WARNINGS_SUFFIX}" if args.out else None)
    outputs = {"--out": args.out, "--failed": failed, "--warnings": warned,
               "--window-scores": args.window_scores}
    named = {}
    for what, path in outputs.items():
        if path:
            resolved = check_output(path, what, files).resolve()
            if resolved in named:
                raise UsageError(f"{what} and {named[resolved]} are the same file '{path}'")
            named[resolved] = what
    check_not_inputs(outputs, [args.protocol, args.asv_scores])
    if args.hop_seconds and args.window_seconds and args.hop_seconds > args.window_seconds:
        raise UsageError("--hop-seconds must not exceed --window-seconds")
    key = read_key(args.protocol) if args.protocol else None
    asv = asv_operating_point_of(args.asv_scores) if args.asv_scores else None
    return _Plan(files, ids, key, asv, failed, warned)


def _write_outputs(
    args, plan: _Plan, scores: dict, failures: list, windows: list, written_to=None
) -> None:
    """Writes the failures' side file and the window scores; says what failed."""
    if args.window_scores:
        write_window_scores(args.window_scores, windows)
    if failures and plan.failed:
        write_failures(plan.failed, failures)
    elif plan.failed and args.failed is None and pathlib.Path(plan.failed).is_file():
        pathlib.Path(plan.failed).unlink()  # a previous run's list: no longer true
    if failures:
        listed = f" (listed in {plan.failed})" if plan.failed else ""
        print(
            f"ssdctx-score: {len(failures)} of {len(plan.files)} files could not be scored"
            f"{listed}; {len(scores)} of {len(plan.files)} scores written"
            f"{' to ' + str(written_to or args.out) if args.out else ''}",
            file=sys.stderr,
        )


def _write_warnings(args, plan: _Plan, warnings: list) -> None:
    """Writes the warnings' side file (or removes a stale default one); says how many."""
    if warnings and plan.warned:
        write_warnings(plan.warned, warnings)
    elif plan.warned and args.warnings is None and pathlib.Path(plan.warned).is_file():
        pathlib.Path(plan.warned).unlink()  # a previous run's list: no longer true
    if warnings:
        listed = f" (listed in {plan.warned})" if plan.warned else ""
        files = len({path for path, _ in warnings})
        print(f"ssdctx-score: {files} of {len(plan.files)} files scored with a warning{listed}",
              file=sys.stderr)


def protocol_report(
    scores: dict[str, float], rows: list[dict], kind: str, asv, args
) -> str:
    """EER, min t-DCF and breakdowns of the scored files against their protocol rows.

    Only the protocol's trials that were scored are evaluated; a scored file missing
    from the protocol is an error. Min t-DCF: legacy and revised with ``--asv-scores``
    (2019), revised with the official C012 for a 2021 LA key.
    """
    scored = [row for row in rows if row["ID"] in scores]
    report = evaluate_scores(
        scores,
        scored,
        asv=asv,
        c012=official_c012("eval") if kind == "2021LA" else None,
        subset=None,
        score_name="the scored files",
        key_name=args.protocol,
    )
    return results_markdown({"scored files": report})


if __name__ == "__main__":
    sys.exit(main())
