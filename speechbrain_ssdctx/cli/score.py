"""``ssdctx-score``: score audio files with a spoofing detector.

Examples
--------
Score a folder (recursively) with the bundled official AASIST::

    ssdctx-score --model aasist my_audio/ --out scores.txt

Score an exported model folder or a HuggingFace model on ASVspoof files and print
the EER against a protocol::

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

import numpy as np
from tqdm import tqdm

from speechbrain_ssdctx.atomic import atomic_open
from speechbrain_ssdctx.data.asvspoof import read_protocol_2019, read_trial_metadata_2021
from speechbrain_ssdctx.metrics import (
    asv_operating_point,
    compute_eer,
    eer_per_group,
    min_tdcf_legacy,
    write_score_file,
)

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


def read_keys(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Labels of a protocol: ASVspoof 2019 CM protocol or 2021 LA / DF ``trial_metadata``.

    The format is told by the number of fields of the first line (5: 2019; 8: 2021 LA;
    9 or more: 2021 DF).

    Arguments
    ---------
    path : str or os.PathLike
        The protocol or key file.

    Returns
    -------
    dict
        Utterance id to its row (keys ``label`` in ``bonafide``/``spoof`` and ``attack``).

    Example
    -------
    >>> keys = read_keys("tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_cm_protocols/"
    ...                  "ASVspoof2019.LA.cm.dev.trl.txt")
    >>> keys["LA_D_1003356"]["label"], keys["LA_D_1003356"]["attack"]
    ('spoof', 'A04')
    """
    with open(path, encoding="utf-8") as stream:
        first = next((line.split() for line in stream if line.strip()), [])
    if len(first) == 5:
        rows = read_protocol_2019(path)
    elif len(first) >= 8:
        rows = read_trial_metadata_2021(path, "LA" if len(first) == 8 else "DF")
    else:
        raise ValueError(
            f"'{path}': not an ASVspoof protocol (a 2019 CM protocol has 5 fields per line, "
            f"a 2021 trial_metadata 8 or more), first line has {len(first)}"
        )
    return {row["ID"]: row for row in rows}


def protocol_metrics(
    scores: dict[str, float], keys: dict[str, dict[str, str]], asv_scores: str | None = None
) -> str:
    """A markdown report of EER (and min t-DCF) of scores against protocol keys.

    Arguments
    ---------
    scores : dict
        Utterance id to score; ids missing from the protocol are an error.
    keys : dict
        From :func:`read_keys`.
    asv_scores : str, optional
        An ASVspoof 2019 ASV score file, for the legacy min t-DCF.

    Returns
    -------
    str
    """
    from speechbrain_ssdctx.data.asvspoof import read_asv_scores

    unknown = [utt for utt in scores if utt not in keys]
    if unknown:
        raise ValueError(f"{len(unknown)} scored files are not in the protocol, e.g. {unknown[:3]}")
    bonafide = np.array([s for utt, s in scores.items() if keys[utt]["label"] == "bonafide"])
    spoof_ids = [utt for utt in scores if keys[utt]["label"] == "spoof"]
    spoof = np.array([scores[utt] for utt in spoof_ids])
    if not bonafide.size or not spoof.size:
        return (
            f"Scored {bonafide.size} bona fide and {spoof.size} spoofed files: the EER needs both."
        )
    eer, threshold = compute_eer(bonafide, spoof)
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| bona fide / spoof files | {bonafide.size} / {spoof.size} |",
        f"| EER (%) | {100 * eer:.3f} |",
        f"| EER threshold | {threshold:.6g} |",
    ]
    if asv_scores:
        asv = read_asv_scores(asv_scores)
        operating_point = asv_operating_point(asv.target, asv.nontarget, asv.spoof)
        lines.append(
            f"| min t-DCF (legacy) | {min_tdcf_legacy(bonafide, spoof, operating_point):.4f} |"
        )
    attacks = [keys[utt]["attack"] for utt in spoof_ids]
    for attack, value in eer_per_group(bonafide, spoof, attacks).items():
        lines.append(f"| EER {attack} (%) | {100 * value:.3f} |")
    return "\n".join(lines)


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
    keys = read_keys(args.protocol) if args.protocol else None
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
    if keys is not None:
        print(protocol_metrics(dict(zip(ids, scores, strict=True)), keys, args.asv_scores))


if __name__ == "__main__":
    sys.exit(main())
