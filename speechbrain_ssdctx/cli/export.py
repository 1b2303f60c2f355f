"""``ssdctx-export``: turn a trained detector into a shareable model folder.

Example
-------
::

    # a run of this project's recipes (its output folder)
    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-inf-ini --repo-id my-org/lcnn-inf-ini
    # any SpeechBrain recipe: its YAML (as run) and its checkpoint folder
    ssdctx-export --hparams results/spoof_id/1986/hyperparams.yaml \\
        --checkpoints results/spoof_id/1986/save --min-key error \\
        --python-module custom_model.py \\
        --label-encoder results/spoof_id/1986/save/label_encoder.txt exported/xvector-inf-ini
    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-inf-ini --push-to-hub my-org/lcnn-inf-ini
    # the average of the run's 5 best checkpoints (by dev EER; see ssdctx-average)
    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-avg5 --average 5
    # one ONNX (or TorchScript) file: of a run, or of any model SpoofDetector loads
    ssdctx-export --format onnx results/lcnn_inf_ini/1 exported/lcnn-onnx
    ssdctx-export --format onnx --model aasist exported/aasist-onnx  # -> aasist.onnx

The folder loads with ``SpoofDetector.from_hparams(<folder or hub id>)``, with SpeechBrain's
``foreign_class(source, pymodule_file="custom_interface.py", classname="SpoofDetector")``
or with ``ssdctx-score --model``; an ONNX / TorchScript export (``<name>.onnx`` or
``<name>.pt`` with its settings in ``<name>.json``) with ``ssdctx-score --model
OUT_DIR/<name>.onnx`` or ``PortableSpoofDetector.from_file``.

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import json
import pathlib
import sys
from collections.abc import Sequence

import yaml

from speechbrain_ssdctx.cli.average import checkpoints_folder
from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.score import positive_int
from speechbrain_ssdctx.data.audio import WINDOW_POLICIES
from speechbrain_ssdctx.evaluation.scores import SCORE_TYPES
from speechbrain_ssdctx.inference.export import export_from_hparams, export_model
from speechbrain_ssdctx.inference.hub import HubUploadError, push_to_hub
from speechbrain_ssdctx.inference.model_card import ModelCard
from speechbrain_ssdctx.inference.model_folder import is_bundled_name
from speechbrain_ssdctx.inference.portable_detector import PORTABLE_FORMATS
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.training.averaging import AVERAGE_BY, average_run_checkpoints
from speechbrain_ssdctx.training.checkpoints import AVERAGED_KEY, CheckpointError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-export``."""
    parser = argparse.ArgumentParser(
        prog="ssdctx-export",
        description="Export a trained detector as an inference model folder with a model "
        "card: from a run of this project's recipes (TRAINING_DIR OUT_DIR; the checkpoint "
        "with the lowest dev EER), or from any SpeechBrain recipe (--hparams, --checkpoints "
        "and OUT_DIR).",
    )
    parser.add_argument("paths", nargs="+", metavar="[TRAINING_DIR] OUT_DIR",
                        help="the run's output folder (without --hparams) and the model "
                        "folder to write (not the training folder or inside it)")
    parser.add_argument("--format", choices=("folder", *PORTABLE_FORMATS), default="folder",
                        help="folder: a SpeechBrain model folder (default); onnx / torchscript: "
                        "one <name>.onnx / <name>.pt file of the detector (front end included, "
                        "any length), its settings (<name>.json) and a model card")
    parser.add_argument("--model", help="with --format onnx|torchscript: export a model that "
                        "SpoofDetector loads (bundled name, model folder, Hub id) instead of a "
                        "run (give OUT_DIR only)")
    recipe = parser.add_argument_group("any SpeechBrain recipe")
    recipe.add_argument("--hparams", help="the training YAML (the recipe's, or the copy as run)")
    recipe.add_argument("--checkpoints", help="the Checkpointer folder, or one CKPT+ folder")
    recipe.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="an override of the training YAML (value read as YAML)")
    recipe.add_argument("--detector-key", default="detector",
                        help="the YAML key of the detector (default: detector)")
    recipe.add_argument("--min-key", help="pick the checkpoint with the lowest value of this "
                        "meta key (e.g. error, EER); default: the most recent")
    recipe.add_argument("--max-key", help="pick the checkpoint with the highest value")
    recipe.add_argument("--python-module", action="append", default=[], metavar="FILE.py",
                        help="your own module the detector needs (shipped with the model)")
    recipe.add_argument("--label-encoder", metavar="FILE",
                        help="a SpeechBrain CategoricalEncoder file: bona fide index from it")
    recipe.add_argument("--bonafide-label", default="bonafide",
                        help="the bona fide label in --label-encoder")
    parser.add_argument("--average", type=positive_int, metavar="N",
                        help="export the average of N checkpoints (saved as "
                        "CKPT+averaged in the checkpoint folder; see ssdctx-average)")
    parser.add_argument("--average-by", choices=AVERAGE_BY, default="best",
                        help="with --average: best (lowest dev EER) or last N checkpoints")
    scoring = parser.add_argument_group("scoring (default: from the run)")
    scoring.add_argument("--bonafide-index", type=int, choices=(0, 1),
                         help="the logit index of bona fide the detector was trained with")
    scoring.add_argument("--threshold", type=float, help="decision threshold on the score")
    scoring.add_argument("--window", choices=WINDOW_POLICIES, help="window policy")
    scoring.add_argument("--window-seconds", type=float, help="window of the 'first' policy")
    scoring.add_argument("--sample-rate", type=int, help="sample rate of the detector")
    scoring.add_argument("--score-type", choices=SCORE_TYPES)
    card = parser.add_argument_group("model card")
    card.add_argument("--name", help="model name (default: the out_dir name)")
    card.add_argument("--repo-id", help="the Hub id (org/name) for the usage snippets")
    card.add_argument("--license", help="licence of the weights (default: mit for the bundled "
                      "models, whose official weights are MIT-licensed; apache-2.0 otherwise)")
    card.add_argument("--training-data", help="training data, in words")
    card.add_argument("--dataset", action="append", help="dataset name or Hub id (repeat)")
    card.add_argument("--data-license", help="licence of the training data (default: from "
                      "the registry of corpora, for the datasets it knows)")
    card.add_argument("--citation", help="publication to cite for the training data")
    card.add_argument("--language", action="append", help="language code (repeat)")
    card.add_argument("--results", help="results.json (the recipes' format) for the card")
    parser.add_argument("--trust-remote-code", action="store_true", help="build whatever the "
                        "run's hyperparams.yaml names (only for runs you trust)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="also upload to this Hub repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    args = parser.parse_args(argv)
    if args.push_to_hub and args.format != "folder":
        parser.error("--push-to-hub uploads model folders (--format folder)")
    if args.model is not None:
        if args.format == "folder" or args.hparams or len(args.paths) != 1:
            parser.error("--model exports to --format onnx|torchscript: give --model NAME OUT_DIR")
        return args
    expected = 1 if args.hparams else 2
    if len(args.paths) != expected or bool(args.hparams) != bool(args.checkpoints):
        parser.error("give TRAINING_DIR OUT_DIR, or --hparams FILE --checkpoints FOLDER OUT_DIR")
    return args


def _export(args):
    """Writes the export the arguments ask for; returns what was written."""
    card, settings = _card(args), _settings(args)
    if args.format == "folder":
        return _export_folder(args, args.paths[-1], settings, card)
    from speechbrain_ssdctx.inference.portable_export import (
        export_portable,
        export_portable_run,
    )
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    if args.model is None:
        return export_portable_run(lambda folder: _export_folder(args, folder, settings, card),
                                   args.paths[-1], args.format, card)
    detector = SpoofDetector.from_hparams(args.model, trust_remote_code=args.trust_remote_code)
    name = args.name or pathlib.Path(args.model).name
    return export_portable(detector, args.paths[0], args.format, card, name=name)


def _export_folder(args, out_dir, settings, card):
    if args.average:
        folder = args.checkpoints or checkpoints_folder(args.paths[0])
        averaged = average_run_checkpoints(folder, args.average, args.average_by)
        print(f"Averaged {args.average} checkpoints ({args.average_by}) into {averaged.path}")
    if args.hparams:
        keys = ({"min_key": args.min_key, "max_key": args.max_key} if not args.average
                else {"max_key": AVERAGED_KEY})
        return export_from_hparams(
            args.hparams, args.checkpoints, out_dir,
            overrides=_overrides(args.override), detector_key=args.detector_key,
            **keys, python_modules=args.python_module,
            label_encoder=args.label_encoder, bonafide_label=args.bonafide_label,
            settings=settings, card=card, trust_remote_code=args.trust_remote_code,
        )
    return export_model(args.paths[0], out_dir, settings=settings, card=card,
                        trust_remote_code=args.trust_remote_code, averaged=bool(args.average))


def _overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--override {pair!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    return overrides


def _settings(args) -> InferenceSettings:
    samples = None
    if args.window_seconds is not None:
        samples = int(round(args.window_seconds * (args.sample_rate or 16000)))
    return InferenceSettings(
        sample_rate=args.sample_rate, window_policy=args.window, window_samples=samples,
        score_type=args.score_type, threshold=args.threshold, bonafide_index=args.bonafide_index,
    )


def _default_license(args) -> str:
    """The bundled models' weights are NAVER's, MIT-licensed; ours default to Apache 2.0."""
    return "mit" if args.model is not None and is_bundled_name(args.model) else "apache-2.0"


def _card(args) -> ModelCard:
    given = {
        "name": args.name or args.push_to_hub,
        "repo_id": args.repo_id or args.push_to_hub,
        "license": args.license or _default_license(args),
        "training_data": args.training_data,
        "datasets": args.dataset,
        "data_licence": args.data_license,
        "citation": args.citation,
        "language": args.language,
    }
    if args.results:
        with open(args.results, encoding="utf-8") as stream:
            given["results"] = json.load(stream)
    return ModelCard(**{key: value for key, value in given.items() if value is not None})


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-export``; returns the exit status."""
    args = parse_args(argv)
    try:
        out_dir = _export(args)
        print(f"Exported to {out_dir}")
        if args.push_to_hub:
            url = push_to_hub(out_dir, args.push_to_hub, private=args.private)
            print(f"Uploaded to {url}")
    except BrokenPipeError:
        raise
    except (ValueError, HubUploadError, OSError, CheckpointError) as error:  # ExportError too
        print(f"ssdctx-export: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
