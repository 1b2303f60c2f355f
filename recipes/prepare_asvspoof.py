#!/usr/bin/env python3
"""Writes SpeechBrain manifests for ASVspoof 2019 LA, 2021 LA / DF, ASVspoof 5, In-the-Wild
or any labelled audio listed in a ``path,label`` CSV.

Examples::

    python recipes/prepare_asvspoof.py 2019LA /data/LA results/manifests
    python recipes/prepare_asvspoof.py 2021LA /data results/manifests --keys /data/keys
    python recipes/prepare_asvspoof.py 2021DF /data results/manifests   # trial list, no labels
    python recipes/prepare_asvspoof.py 2019LA demo results/manifests    # the bundled demo corpus
    python recipes/prepare_asvspoof.py ASVspoof5 /data/asvspoof5 results/manifests
    python recipes/prepare_asvspoof.py InTheWild /data/release_in_the_wild results/manifests
    python recipes/prepare_asvspoof.py labelled my_audio/labels.csv results/manifests

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechbrain_ssdctx.data import (  # noqa: E402
    MissingAudioError,
    demo_corpus_folder,
    prepare_asvspoof2019_la,
    prepare_asvspoof2021,
)
from speechbrain_ssdctx.data.asvspoof5 import prepare_asvspoof5  # noqa: E402
from speechbrain_ssdctx.data.in_the_wild import prepare_in_the_wild  # noqa: E402
from speechbrain_ssdctx.data.labelled import prepare_labelled_csv  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "corpus", choices=("2019LA", "2021LA", "2021DF", "ASVspoof5", "InTheWild", "labelled")
    )
    parser.add_argument(
        "data_folder",
        help="official layout root, 'demo' (2019LA only), or the CSV file (labelled)",
    )
    parser.add_argument("save_folder", type=Path, help="where the CSV manifests go")
    parser.add_argument("--keys", type=Path, help="2021 keys package folder")
    parser.add_argument("--skip-missing", action="store_true", help="drop missing audio")
    parser.add_argument("--check-headers", action="store_true", help="read every header")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    options = {"skip_missing": args.skip_missing, "check_headers": args.check_headers}
    try:
        if args.corpus == "2019LA":
            data = demo_corpus_folder() if args.data_folder == "demo" else args.data_folder
            outputs = prepare_asvspoof2019_la(data, args.save_folder, **options)
        elif args.corpus == "ASVspoof5":
            outputs = prepare_asvspoof5(args.data_folder, args.save_folder, **options)
        elif args.corpus == "InTheWild":
            outputs = {"test": prepare_in_the_wild(args.data_folder, args.save_folder, **options)}
        elif args.corpus == "labelled":
            outputs = {
                "test": prepare_labelled_csv(args.data_folder, args.save_folder, **options)
            }
        else:
            track = args.corpus[-2:]
            outputs = {
                "eval": prepare_asvspoof2021(
                    args.data_folder, args.save_folder, track, args.keys, **options
                )
            }
    except (MissingAudioError, FileNotFoundError, ValueError) as error:
        print(f"prepare_asvspoof: error: {error}", file=sys.stderr)
        return 1
    for name, path in outputs.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
