"""ONNX Runtime and TorchScript vs PyTorch: scoring throughput of exported detectors.

Exports the bundled AASIST, a tiny LCNN (n_mels 32) and a tiny SSL detector (wav2vec 2.0
of tests/ssl_utils.py with the AASIST back end) to ONNX and TorchScript, then scores the
same demo files with ``SpoofDetector`` (PyTorch), ``PortableSpoofDetector`` on the ONNX
file (ONNX Runtime) and on the TorchScript file, each with 2 threads, and prints a markdown
table of files per second and times real time (audio seconds per second of scoring), with
the largest score difference to PyTorch.

Usage::

    python benchmarks/bench_onnx.py [--files 20] [--threads 2]

Authors
 * speechbrain-ssdctx contributors 2025
"""

import argparse
import pathlib
import sys
import tempfile
import time

import soundfile
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from speechbrain_ssdctx.data import demo_corpus_folder  # noqa: E402
from speechbrain_ssdctx.inference import InferenceSettings, SpoofDetector  # noqa: E402
from speechbrain_ssdctx.inference.export import DetectorDefinition, export_detector  # noqa: E402
from speechbrain_ssdctx.inference.portable_detector import PortableSpoofDetector  # noqa: E402
from speechbrain_ssdctx.inference.portable_export import export_portable  # noqa: E402


def detectors(scratch: pathlib.Path) -> dict[str, SpoofDetector]:
    """The three models, loaded as SpoofDetector."""
    from ssl_utils import build_tiny_ssl_model

    from speechbrain_ssdctx.models import LCNN
    from speechbrain_ssdctx.models.ssl import AASISTBackend, SSLDetector, SSLEncoder

    torch.manual_seed(0)
    lcnn = export_detector(
        LCNN(n_mels=32), DetectorDefinition("detector: !new:speechbrain_ssdctx.models.LCNN\n"
                                            "    n_mels: 32\n"),
        scratch / "lcnn", InferenceSettings(window_policy="full"))
    source = build_tiny_ssl_model(scratch / "tiny_ssl")
    text = ("detector: !new:speechbrain_ssdctx.models.ssl.SSLDetector\n"
            "    encoder: !new:speechbrain_ssdctx.models.ssl.SSLEncoder\n"
            f"        source: {source}\n"
            "    head: !name:speechbrain_ssdctx.models.ssl.AASISTBackend\n")
    ssl = export_detector(SSLDetector(SSLEncoder(str(source)), AASISTBackend),
                          DetectorDefinition(text), scratch / "ssl",
                          InferenceSettings(window_policy="full"))
    return {
        "AASIST (bundled, official 4 s window)": SpoofDetector.from_hparams("aasist"),
        "LCNN n_mels 32 (whole files)": SpoofDetector.from_hparams(lcnn),
        "tiny wav2vec 2.0 + AASIST back end (whole files)": SpoofDetector.from_hparams(ssl),
    }


def timed(scorer, files) -> tuple[float, list[float]]:
    scorer.score_each(files[:1]).__next__()  # warm-up
    start = time.perf_counter()
    scores = [result.score for result in scorer.score_each(files)]
    return time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(demo_corpus_folder().rglob("*.flac"))[: args.files]
    seconds = sum(soundfile.info(f).duration for f in files)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        for name, detector in detectors(scratch).items():
            reference_time, reference = timed(detector, files)
            rows.append((name, "PyTorch", reference_time, 0.0))
            for fmt in ("onnx", "torchscript"):
                path = export_portable(detector, scratch / f"{fmt}-{len(rows)}", fmt, name="m")
                portable = PortableSpoofDetector.from_file(path, threads=args.threads)
                elapsed, scores = timed(portable, files)
                gap = max(abs(a - b) for a, b in zip(scores, reference, strict=True))
                rows.append((name, "ONNX Runtime" if fmt == "onnx" else "TorchScript",
                             elapsed, gap))
    print(f"{len(files)} demo files, {seconds:.1f} s of audio, {args.threads} threads\n")
    print("| model | runtime | files/s | x real time | max score difference |")
    print("|---|---|---:|---:|---:|")
    for name, runtime, elapsed, gap in rows:
        print(f"| {name} | {runtime} | {len(files) / elapsed:.1f} | {seconds / elapsed:.1f} "
              f"| {gap:.1e} |")


if __name__ == "__main__":
    main()
