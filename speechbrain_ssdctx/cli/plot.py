"""``ssdctx-plot``: DET curves, score histograms, t-SNE and band-sensitivity maps as PNGs.

Examples
--------
::

    # DET curves of several systems (score files of ssdctx-score / ssdctx-eval)
    ssdctx-plot det --protocol ASVspoof2019.LA.cm.eval.trl.txt --out det.png \\
        lcnn.txt lcnn_inf_ini.txt --labels LCNN LCNN+InF+InI
    # score histograms per attack
    ssdctx-plot hist --protocol ASVspoof2019.LA.cm.eval.trl.txt --out hist.png scores.txt
    # the paper's Fig. 2: embeddings of utterances and of 20 band-masked views of one
    ssdctx-plot tsne --model exported/ --protocol ASVspoof2019.LA.cm.eval.trl.txt \\
        --view-of LA_E_9157999.flac --views 20 --out tsne.png eval_subset/
    # which 2 kHz bands the detector relies on (EER and score shift per band, plus a table)
    ssdctx-plot bands --model exported/ --protocol ASVspoof2019.LA.cm.eval.trl.txt \
        --out bands.png --table bands.md eval_subset/

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import pathlib
import sys
from collections.abc import Sequence

import numpy as np
import torch

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.inputs import check_one_stdin
from speechbrain_ssdctx.cli.outputs import check_not_inputs
from speechbrain_ssdctx.data.audio_files import find_audio, utterance_ids
from speechbrain_ssdctx.evaluation.evaluate import read_key
from speechbrain_ssdctx.evaluation.plots import (
    masked_views,
    plot_det,
    plot_score_histograms,
    plot_tsne,
    save_figure,
)
from speechbrain_ssdctx.evaluation.scores import read_score_file


def read_keys(path) -> dict[str, dict[str, str]]:
    """The rows of a protocol, key or manifest (``evaluation.read_key``) by utterance id."""
    return {row["ID"]: row for row in read_key(path)[0]}


def keyed_audio(inputs, protocol) -> tuple[list[str], list[str], dict[str, dict[str, str]]]:
    """The audio files of ``inputs``, their utterance ids, and the protocol's rows by id;
    a file the protocol does not list is an error."""
    files = find_audio(inputs)
    keys = read_keys(protocol)
    ids = utterance_ids(files)
    missing = [utt for utt in ids if utt not in keys]
    if missing:
        raise ValueError(f"{len(missing)} files are not in '{protocol}', e.g. {missing[:3]}")
    return files, ids, keys


def split_scores(
    scores: dict[str, float], keys: dict[str, dict[str, str]], source: str
) -> dict[str, np.ndarray]:
    """Groups scores into ``bonafide`` and one group per attack (sorted).

    Arguments
    ---------
    scores : dict
        Utterance id to score.
    keys : dict
        Protocol rows by utterance id (see :func:`read_keys`).
    source : str
        Name of the score file, for errors.

    Returns
    -------
    dict
        ``"bonafide"`` then each attack id, to an array of scores.

    Example
    -------
    >>> keys = {"a": {"label": "bonafide", "attack": "-"}, "b": {"label": "spoof", "attack": "A07"}}
    >>> split_scores({"a": 1.0, "b": -2.0}, keys, "toy")
    {'bonafide': array([1.]), 'A07': array([-2.])}
    """
    unknown = [utt for utt in scores if utt not in keys]
    if unknown:
        raise ValueError(f"'{source}': {len(unknown)} ids not in the protocol, e.g. {unknown[:3]}")
    groups: dict[str, list[float]] = {"bonafide": []}
    for utt, score in scores.items():
        row = keys[utt]
        group = "bonafide" if row["label"] == "bonafide" else row["attack"]
        groups.setdefault(group, []).append(score)
    attacks = sorted(group for group in groups if group != "bonafide")
    return {group: np.asarray(groups[group]) for group in ["bonafide", *attacks]}


def det(args: argparse.Namespace) -> None:
    """``ssdctx-plot det``."""
    labels = args.labels or [pathlib.Path(path).stem for path in args.scores]
    if len(labels) != len(args.scores):
        raise ValueError(f"{len(labels)} --labels for {len(args.scores)} score files")
    keys = read_keys(args.protocol)
    systems = {}
    for label, path in zip(labels, args.scores, strict=True):
        groups = split_scores(read_score_file(path), keys, path)
        spoof = [scores for group, scores in groups.items() if group != "bonafide"]
        if not groups["bonafide"].size or not spoof:
            raise ValueError(f"'{path}' needs both bona fide and spoofed trials for a DET curve")
        systems[label] = (groups["bonafide"], np.concatenate(spoof))
    save_figure(plot_det(systems, title=args.title or "DET curve"), args.out)


def hist(args: argparse.Namespace) -> None:
    """``ssdctx-plot hist``."""
    groups = split_scores(read_score_file(args.scores), read_keys(args.protocol), args.scores)
    groups = {name: scores for name, scores in groups.items() if scores.size}
    fig = plot_score_histograms(
        groups, threshold=args.threshold, bins=args.bins, title=args.title or "Score distributions"
    )
    save_figure(fig, args.out)


def tsne(args: argparse.Namespace) -> None:
    """``ssdctx-plot tsne``."""
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector
    from speechbrain_ssdctx.method.masking import BandPassMasking

    files, ids, keys = keyed_audio(args.inputs, args.protocol)
    detector = SpoofDetector.from_hparams(
        args.model, savedir=args.savedir, trust_remote_code=args.trust_remote_code
    )
    embeddings = torch.cat(
        [detector.encode_batch(detector.load_audio(path).unsqueeze(0)) for path in files]
    )
    view = detector.window(detector.load_audio(args.view_of))
    masking = BandPassMasking(sample_rate=detector.hparams.sample_rate, seed=args.seed)
    views = detector.encode_batch(masked_views(view, args.views, masking))
    fig = plot_tsne(
        embeddings.numpy(),
        [keys[utt]["label"] == "bonafide" for utt in ids],
        views.numpy(),
        views_label=f"masked views of {pathlib.Path(args.view_of).stem}",
        seed=args.seed,
        title=args.title or "t-SNE of detector embeddings",
    )
    save_figure(fig, args.out)


def bands(args: argparse.Namespace) -> None:
    """``ssdctx-plot bands``."""
    import json

    from speechbrain_ssdctx.evaluation.band_map import band_lows, band_sensitivity
    from speechbrain_ssdctx.evaluation.plots import plot_band_map
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    files, ids, keys = keyed_audio(args.inputs, args.protocol)
    detector = SpoofDetector.from_hparams(
        args.model, savedir=args.savedir, trust_remote_code=args.trust_remote_code
    )
    waveforms = [detector.window(detector.load_audio(path)) for path in files]
    result = band_sensitivity(
        detector.score_batch, waveforms, [keys[utt]["label"] == "bonafide" for utt in ids],
        lows=args.lows or band_lows(args.bands), sample_rate=detector.hparams.sample_rate,
        progress=True,
    )
    save_figure(plot_band_map(result, title=args.title or f"Band sensitivity: {args.model}"),
                args.out)
    print(result.markdown())
    if args.table:
        pathlib.Path(args.table).write_text(result.markdown() + "\n", encoding="utf-8")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result.to_dict(), indent=1) + "\n",
                                           encoding="utf-8")


#: Help of ``--trust-remote-code``.
TRUST_HELP = "build whatever the model's hyperparams.yaml names (only for models you trust)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-plot``."""
    parser = argparse.ArgumentParser(prog="ssdctx-plot", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    det_parser = commands.add_parser("det", help="DET curves of score files")
    det_parser.add_argument("scores", nargs="+", help="score files ('utt_id score' lines)")
    det_parser.add_argument("--labels", nargs="+", help="legend names (default: file names)")
    det_parser.set_defaults(run=det)

    hist_parser = commands.add_parser("hist", help="score histograms per attack")
    hist_parser.add_argument("scores", help="a score file ('utt_id score' lines)")
    hist_parser.add_argument("--threshold", type=float, help="draw a decision threshold")
    hist_parser.add_argument("--bins", type=int, default=50, help="number of bins")
    hist_parser.set_defaults(run=hist)

    tsne_parser = commands.add_parser("tsne", help="t-SNE of embeddings and masked views")
    tsne_parser.add_argument("inputs", nargs="+", help="audio files and folders")
    tsne_parser.add_argument("--model", required=True, help="model name, folder or Hub id")
    tsne_parser.add_argument("--view-of", required=True, help="audio file to mask")
    tsne_parser.add_argument("--views", type=int, default=20, help="number of masked views")
    tsne_parser.add_argument("--seed", type=int, default=0, help="seed of masking and t-SNE")
    tsne_parser.add_argument("--savedir", help="where to keep files of a HuggingFace model")
    tsne_parser.add_argument("--trust-remote-code", action="store_true", help=TRUST_HELP)
    tsne_parser.set_defaults(run=tsne)

    bands_parser = commands.add_parser("bands", help="band-sensitivity map of a model")
    bands_parser.add_argument("inputs", nargs="+", help="labelled audio files and folders")
    bands_parser.add_argument("--model", required=True, help="model name, folder or Hub id")
    bands_parser.add_argument("--bands", type=int, default=7,
                              help="number of 2 kHz bands evenly spread over 160-7840 Hz")
    bands_parser.add_argument("--lows", type=float, nargs="+",
                              help="explicit lower band edges in Hz (instead of --bands)")
    bands_parser.add_argument("--table", help="also write the table as Markdown")
    bands_parser.add_argument("--json", help="also write the map as JSON")
    bands_parser.add_argument("--savedir", help="where to keep files of a HuggingFace model")
    bands_parser.add_argument("--trust-remote-code", action="store_true", help=TRUST_HELP)
    bands_parser.set_defaults(run=bands)

    for sub in (det_parser, hist_parser, tsne_parser, bands_parser):
        sub.add_argument("--protocol", required=True, help="ASVspoof protocol / key file")
        sub.add_argument("--out", required=True, help="PNG file to write")
        sub.add_argument("--title", help="figure title")
    return parser.parse_args(argv)


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-plot``; returns the exit status."""
    args = parse_args(argv)
    try:
        check_not_inputs(_outputs(args), _inputs(args))
        check_one_stdin({"scores": getattr(args, "scores", None), "--protocol": args.protocol,
                         "inputs": getattr(args, "inputs", None)})
        args.run(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        print(f"ssdctx-plot: error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out}")
    return 0


def _outputs(args: argparse.Namespace) -> dict[str, str | None]:
    return {"--out": args.out, "--table": getattr(args, "table", None),
            "--json": getattr(args, "json", None)}


def _inputs(args: argparse.Namespace) -> list[str | None]:
    """The files a subcommand reads (score files, protocol, audio given as files)."""
    scores = args.scores if isinstance(getattr(args, "scores", None), list) else [
        getattr(args, "scores", None)]
    return [*scores, args.protocol, getattr(args, "view_of", None),
            *getattr(args, "inputs", [])]


if __name__ == "__main__":
    sys.exit(main())
