#!/usr/bin/env python3
"""Writes SpeechBrain manifests for ASVspoof 2019 LA, 2021 LA / DF, ASVspoof 5, In-the-Wild
or any labelled audio listed in a ``path,label`` CSV: any corpus of the registry
(``speechbrain_ssdctx.data.corpora``).

Examples::

    python recipes/prepare_asvspoof.py 2019LA /data/LA results/manifests
    python recipes/prepare_asvspoof.py 2021LA /data results/manifests --keys /data/keys
    python recipes/prepare_asvspoof.py 2021DF /data results/manifests   # trial list, no labels
    python recipes/prepare_asvspoof.py 2019LA demo results/manifests    # the bundled demo corpus
    python recipes/prepare_asvspoof.py ASVspoof5 /data/asvspoof5 results/manifests
    python recipes/prepare_asvspoof.py InTheWild /data/release_in_the_wild results/manifests
    python recipes/prepare_asvspoof.py labelled my_audio/labels.csv results/manifests
    python recipes/prepare_asvspoof.py MLAAD /data/MLAAD results/manifests --mailabs /data/M-AILABS

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechbrain_ssdctx.data import (  # noqa: E402
    CORPORA,
    DEMO,
    MissingAudioError,
    get_corpus,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "corpus", choices=[name for name, corpus in CORPORA.items() if corpus.hparam]
    )
    parser.add_argument(
        "data_folder",
        help="official layout root, 'demo' (2019LA only), or the CSV file (labelled)",
    )
    parser.add_argument("save_folder", type=Path, help="where the CSV manifests go")
    parser.add_argument("--keys", type=Path, help="2021 keys package folder")
    parser.add_argument("--mailabs", type=Path, help="M-AILABS folder (MLAAD's bona fide)")
    parser.add_argument("--skip-missing", action="store_true", help="drop missing audio")
    parser.add_argument("--check-headers", action="store_true", help="read every header")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    corpus, demo = get_corpus(args.corpus), get_corpus(DEMO)
    data = args.data_folder
    if data == DEMO and corpus.preparer is demo.preparer:  # the demo has its layout
        data = demo.folder()
    options = {"skip_missing": args.skip_missing, "check_headers": args.check_headers}
    if "keys_folder" in corpus.options:
        options["keys_folder"] = args.keys
    if "mailabs_folder" in corpus.options:
        options["mailabs_folder"] = args.mailabs
    try:
        outputs = corpus.prepare(data, args.save_folder, **options)
    except (MissingAudioError, FileNotFoundError, ValueError) as error:
        print(f"prepare_asvspoof: error: {error}", file=sys.stderr)
        return 1
    for name, path in outputs.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
