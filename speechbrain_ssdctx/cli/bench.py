"""``ssdctx-bench``: score one or several models on every test set given, in one table.

Examples
--------
::

    # two models on the demo corpus, the 2019 LA eval set and a labelled CSV
    ssdctx-bench --model aasist --model mine=exported/lcnn-inf-ini \\
        --test demo --test 2019LA=/data/LA --test my_recordings.csv --out bench/
    # stopped (Ctrl-C, a killed job)? The same command with --resume scores the rest
    ssdctx-bench ... --out bench/ --resume

A test set is a corpus of the registry and its data (``CORPUS=PATH``: ``2019LA``,
``2021LA``, ``2021DF``, ``ASVspoof5``, ``InTheWild``, yours), a bundled corpus by name
(``demo``), a labelled CSV (``path,label``) or a folder with ``bonafide/`` and ``spoof/``
subfolders. A model is a bundled name, an exported folder or a Hub id, optionally named
``NAME=MODEL``.

``--out`` ends with ``scores/<model>/<set>.txt`` (one per pair; a pair with a complete
file is not scored again with ``--resume``, a ``.partial`` one is continued),
``bench.md`` and ``bench.json`` (EER, minDCF, actDCF and Cllr per set with bootstrap
intervals, and each model's pooled EER over all sets' trials) and ``bench.png`` (EER per
set with its interval). actDCF and Cllr read the scores as LLRs: they mean something for
calibrated models (an export with ``calibration.json``). Stopped by SIGINT or SIGTERM, the
run keeps what it scored and exits 130 (143).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.score import (
    INTERRUPTED_STATUS,
    Interrupted,
    positive_int,
    stop_on_signals,
)
from speechbrain_ssdctx.evaluation.benchmark import Benchmark, benchmark_markdown
from speechbrain_ssdctx.evaluation.plots import plot_benchmark, save_figure
from speechbrain_ssdctx.evaluation.sets import resolve_test_sets
from speechbrain_ssdctx.training.typed_hparams import HparamError, check_device
from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = ["main"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-bench``."""
    parser = argparse.ArgumentParser(prog="ssdctx-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True, metavar="[NAME=]MODEL",
                        help="a bundled model, exported folder or Hub id (repeat)")
    parser.add_argument("--test", action="append", required=True, metavar="SET",
                        help="CORPUS=PATH, a bundled corpus (demo), a labelled CSV or a "
                        "folder with bonafide/ and spoof/ (repeat)")
    parser.add_argument("--out", required=True, type=Path, help="the benchmark folder")
    parser.add_argument("--resume", action="store_true",
                        help="keep the scores of an earlier run in --out; score the rest")
    parser.add_argument("--bootstrap", type=positive_int, default=1000,
                        help="bootstrap replicates of the intervals (default: 1000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval coverage")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--max-per-class", type=positive_int,
                        help="score only the first N bona fide and N spoofed trials of a set")
    parser.add_argument("--batch-size", type=positive_int, default=1,
                        help="windows per forward pass")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0")
    parser.add_argument("--savedir", help="where to keep files of Hub models")
    parser.add_argument("--trust-remote-code", action="store_true", help="build whatever "
                        "the models' hyperparams.yaml names (only for models you trust)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress messages")
    args = parser.parse_args(argv)
    if not 0 < args.confidence < 1:
        parser.error(f"--confidence must be in (0, 1), got {args.confidence}")
    return args


def named_models(specs: Sequence[str]) -> dict[str, str]:
    """``{name: model}`` of ``[NAME=]MODEL`` arguments (default name: the folder's name).

    Example
    -------
    >>> named_models(["aasist", "mine=exported/lcnn/"])
    {'aasist': 'aasist', 'mine': 'exported/lcnn/'}
    """
    models: dict[str, str] = {}
    for spec in specs:
        name, separator, source = spec.partition("=")
        if not separator:
            name, source = Path(spec.rstrip("/")).name or spec, spec
        if not name or not source:
            raise ValueError(f"--model {spec!r}: expected [NAME=]MODEL")
        if name in models:
            raise ValueError(f"two models named {name!r}: name them (NAME=MODEL)")
        models[name] = source
    return models


def _loader(args: argparse.Namespace):
    def load(source: str):
        from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector  # slow import

        return SpoofDetector.from_hparams(
            source, savedir=args.savedir, run_opts={"device": args.device},
            trust_remote_code=args.trust_remote_code,
        )
    return load


def bench(args: argparse.Namespace) -> int:
    """Runs a parsed ``ssdctx-bench``; returns the exit status."""
    try:
        check_device(args.device)
    except HparamError as error:
        raise ValueError(f"--{error}") from None
    models = named_models(args.model)
    scores = args.out / "scores"
    if scores.is_dir() and any(scores.iterdir()) and not args.resume:
        raise ValueError(f"{args.out} holds scores of an earlier run: --resume to keep them "
                         "and score the rest, or give another --out")
    sets = [s for spec in args.test for s in resolve_test_sets(spec, args.out / "manifests")]
    benchmark = Benchmark(models, sets, args.out, _loader(args), args.batch_size,
                          args.max_per_class)
    done = len(models) * len(sets) - len(benchmark.pending())
    if done:
        print(f"ssdctx-bench: resuming: {done} of {len(models) * len(sets)} (model, set) "
              "pairs scored already", file=sys.stderr)
    progress = tqdm(total=len(benchmark.pending()), unit="set", disable=args.no_progress,
                    file=sys.stderr)
    try:
        with stop_on_signals():
            for _ in benchmark.run(progress=progress.write):
                progress.update()
    except Interrupted as stop:
        progress.close()
        print(f"ssdctx-bench: interrupted ({stop}): the sets scored so far are kept in "
              f"{scores}; the same command with --resume scores the rest", file=sys.stderr)
        return INTERRUPTED_STATUS[stop.signum]
    progress.close()
    table = benchmark.results(args.bootstrap, args.confidence, args.seed)
    markdown = benchmark_markdown(table)
    with atomic_open(args.out / "bench.md") as stream:
        stream.write(markdown)
    with atomic_open(args.out / "bench.json") as stream:
        json.dump({"bootstrap": args.bootstrap, "confidence": args.confidence,
                   "models": models, "results": table}, stream, indent=1)
        stream.write("\n")
    save_figure(plot_benchmark(table), args.out / "bench.png")
    print(markdown, end="")
    print(f"ssdctx-bench: wrote {args.out / 'bench.md'}, bench.json and bench.png",
          file=sys.stderr)
    return 0


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-bench``; returns the exit status."""
    args = parse_args(argv)
    try:
        return bench(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:  # ProtocolError, AudioFileError, ...
        print(f"ssdctx-bench: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
