"""``ssdctx-export``: turn a training output folder into a shareable model folder.

Example
-------
::

    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-inf-ini
    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-inf-ini --push-to-hub my-org/lcnn-inf-ini

The folder holds ``hyperparams.yaml`` (inference), ``detector.ckpt``,
``training_hyperparams.yaml`` and a ``README.md`` model card, and loads with
``SpoofDetector.from_hparams(<folder or hub id>)`` or ``ssdctx-score --model``.

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import sys
from collections.abc import Sequence

from speechbrain_ssdctx.hub import HubUploadError, export_model, push_to_hub


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-export``."""
    parser = argparse.ArgumentParser(
        prog="ssdctx-export",
        description="Export the best checkpoint (lowest dev EER) of a training run as an "
        "inference model folder with a model card.",
    )
    parser.add_argument("training_dir", help="training output folder (has save/, inference.yaml)")
    parser.add_argument("out_dir", help="model folder to write")
    parser.add_argument("--name", help="model name in the card (default: the out_dir name)")
    parser.add_argument("--license", default="apache-2.0", help="licence of the weights")
    parser.add_argument(
        "--training-data",
        default="ASVspoof 2019 LA training partition",
        help="training data, in words, for the card",
    )
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="also upload to this Hub repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-export``; returns the exit status."""
    args = parse_args(argv)
    try:
        out_dir = export_model(
            args.training_dir,
            args.out_dir,
            name=args.name or args.push_to_hub,
            license=args.license,
            training_data=args.training_data,
        )
        print(f"Exported to {out_dir}")
        if args.push_to_hub:
            url = push_to_hub(out_dir, args.push_to_hub, private=args.private)
            print(f"Uploaded to {url}")
    except (ValueError, HubUploadError, OSError) as error:  # ExportError is a ValueError
        print(f"ssdctx-export: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
