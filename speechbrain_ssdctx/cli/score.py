"""``ssdctx-score``: score audio files with a spoofing detector.

Examples
--------
Score a folder (recursively) with the bundled official AASIST::

    ssdctx-score --model aasist my_audio/ --out scores.txt

Score an exported model folder or a HuggingFace model on ASVspoof files and print
the EER (and min t-DCF, breakdowns) against a protocol, as ``ssdctx-eval`` does::

    ssdctx-score --model exported/ LA/ASVspoof2019_LA_eval/flac \\
        --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt

Output: one ``utt_id score`` line per file (the utterance id is the file name without
its extension; the ASVspoof score file format), or with ``--format tsv`` a header and
``utt_id<TAB>score<TAB>path`` lines. Higher scores mean more likely bona fide.

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import csv
import os
import pathlib
import sys
from collections.abc import Sequence

from tqdm import tqdm

from speechbrain_ssdctx.atomic import atomic_open
from speechbrain_ssdctx.evaluation import (
    asv_operating_point_of,
    evaluate_scores,
    official_c012,
    read_key,
)
from speechbrain_ssdctx.report import results_markdown
from speechbrain_ssdctx.scores import write_score_file

#: Extensions ``ssdctx-score`` picks up when it walks a folder.
AUDIO_EXTENSIONS = (".flac", ".wav", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".aif", ".au")


def find_audio(inputs: Sequence[str | os.PathLike], extensions=AUDIO_EXTENSIONS) -> list[str]:
    """Files given directly, plus audio files found recursively in given folders.

    Arguments
    ---------
    inputs : sequence of str or os.PathLike
        Files and folders.
    extensions : tuple of str
        Lower-case extensions of the audio files to collect from folders.

    Returns
    -------
    list of str
        Files in argument order, each folder's files sorted.

    Example
    -------
    >>> files = find_audio(["tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_dev"])
    >>> [pathlib.Path(f).name for f in files]
    ['LA_D_1003356.flac']
    """
    files = []
    for item in map(pathlib.Path, inputs):
        if item.is_dir():
            found = [p for p in item.rglob("*") if p.suffix.lower() in extensions]
            files.extend(str(p) for p in sorted(found) if p.is_file())
        elif item.is_file():
            files.append(str(item))
        else:
            raise FileNotFoundError(f"No such audio file or folder: '{item}'")
    if not files:
        raise FileNotFoundError(f"No audio files ({', '.join(extensions)}) in {list(inputs)}")
    return files


def utterance_ids(paths: Sequence[str]) -> list[str]:
    """File names without extension; two files with the same name are an error."""
    ids = [pathlib.Path(path).stem for path in paths]
    seen: dict[str, str] = {}
    for utt_id, path in zip(ids, paths, strict=True):
        if utt_id in seen:
            raise ValueError(
                f"Two files share the utterance id '{utt_id}': '{seen[utt_id]}' and '{path}' "
                "(use --format tsv, which keeps the paths, or score them separately)"
            )
        seen[utt_id] = path
    return ids


def write_tsv(path: str | os.PathLike, ids: Sequence[str], scores, paths: Sequence[str]):
    """Writes ``utt_id``, ``score``, ``path`` columns with a header, atomically."""
    with atomic_open(path, newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(["utt_id", "score", "path"])
        writer.writerows(
            (utt, repr(score), p) for utt, score, p in zip(ids, scores, paths, strict=True)
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-score``."""
    parser = argparse.ArgumentParser(
        prog="ssdctx-score",
        description="Score audio files with a synthetic speech detector "
        "(higher score = more likely bona fide).",
    )
    parser.add_argument("inputs", nargs="+", help="audio files and folders (searched recursively)")
    parser.add_argument(
        "--model",
        required=True,
        help="bundled model (aasist, aasist-l), exported model folder or HuggingFace id",
    )
    parser.add_argument("--out", help="score file to write (default: print to stdout)")
    parser.add_argument(
        "--format",
        choices=("txt", "tsv"),
        default="txt",
        help="txt: 'utt_id score' lines; tsv: utt_id, score, path columns with a header",
    )
    parser.add_argument("--protocol", help="ASVspoof protocol / key file: also print the EER")
    parser.add_argument("--asv-scores", help="ASVspoof 2019 ASV scores: also print min t-DCF")
    parser.add_argument("--batch-size", type=int, default=1, help="files per forward pass")
    parser.add_argument("--savedir", help="where to keep files of a HuggingFace model")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-score``; returns the exit status (errors name the file at fault)."""
    args = parse_args(argv)
    try:
        score(args)
    except (OSError, ValueError) as error:  # AudioFileError, ProtocolError are ValueErrors
        print(f"ssdctx-score: error: {error}", file=sys.stderr)
        return 1
    return 0


def score(args: argparse.Namespace) -> None:
    """Scores the files of parsed ``ssdctx-score`` arguments and writes the results."""
    from speechbrain_ssdctx.inference import SpoofDetector

    files = find_audio(args.inputs)
    unique = args.format == "txt" or args.protocol
    ids = utterance_ids(files) if unique else [pathlib.Path(f).stem for f in files]
    key = read_key(args.protocol) if args.protocol else None
    detector = SpoofDetector.from_hparams(
        args.model, savedir=args.savedir, run_opts={"device": args.device}
    )
    progress = tqdm(
        total=len(files), unit="file", desc="scoring", disable=args.no_progress, file=sys.stderr
    )
    scores = []
    for _, score in detector.score_files(files, batch_size=args.batch_size):
        scores.append(score)
        progress.update()
    progress.close()
    if args.out and args.format == "txt":
        write_score_file(args.out, ids, scores)
    elif args.out:
        write_tsv(args.out, ids, scores, files)
    else:
        for utt, score, path in zip(ids, scores, files, strict=True):
            print(f"{utt}\t{score!r}\t{path}" if args.format == "tsv" else f"{utt} {score!r}")
    if key is not None:
        print(protocol_report(dict(zip(ids, scores, strict=True)), *key, args))


def protocol_report(scores: dict[str, float], rows: list[dict], kind: str, args) -> str:
    """EER, min t-DCF and breakdowns of the scored files against their protocol rows.

    Only the protocol's trials that were scored are evaluated; a scored file missing
    from the protocol is an error. Min t-DCF: legacy and revised with ``--asv-scores``
    (2019), revised with the official C012 for a 2021 LA key.
    """
    scored = [row for row in rows if row["ID"] in scores]
    report = evaluate_scores(
        scores,
        scored,
        asv=asv_operating_point_of(args.asv_scores) if args.asv_scores else None,
        c012=official_c012("eval") if kind == "2021LA" else None,
        subset=None,
        score_name="the scored files",
        key_name=args.protocol,
    )
    return results_markdown({"scored files": report})


if __name__ == "__main__":
    sys.exit(main())
