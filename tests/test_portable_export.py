"""ONNX and TorchScript exports: the bundled AASIST, a tiny LCNN, a tiny SSL detector and a
``Detector`` over SpeechBrain's Fbank + ECAPA-TDNN lobes give
SpoofDetector's scores (to 1e-4) on demo audio of several lengths, through
PortableSpoofDetector and the CLIs; the export folder rules and the settings file checks."""

import json
import pathlib

import pytest
import soundfile
import torch

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.cli.score import main as score_main
from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.inference import InferenceSettings, SpoofDetector
from speechbrain_ssdctx.inference.export import (
    DetectorDefinition,
    ExportError,
    export_detector,
)
from speechbrain_ssdctx.inference.portable_detector import (
    PortableModelError,
    PortableSpoofDetector,
)
from speechbrain_ssdctx.inference.portable_export import export_portable
from speechbrain_ssdctx.models import LCNN

pytestmark = pytest.mark.slow  # traces models


def demo_files(count: int = 3) -> list[pathlib.Path]:
    """Demo files of different lengths (shortest, median, longest)."""
    files = sorted(demo_corpus_folder().rglob("*.flac"), key=lambda p: soundfile.info(p).frames)
    picks = [files[0], files[len(files) // 2], files[-1]][:count]
    assert len({soundfile.info(p).frames for p in picks}) == len(picks)
    return picks


def assert_same_scores(reference: SpoofDetector, portable: PortableSpoofDetector, files):
    expected = [result.score for result in reference.score_each(files)]
    got = [result.score for result in portable.score_each(files)]
    assert None not in expected
    torch.testing.assert_close(torch.tensor(got), torch.tensor(expected), rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def aasist_onnx(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "aasist-onnx"
    assert export_main(["--format", "onnx", "--model", "aasist", str(out)]) == 0
    return out / "aasist.onnx"


def test_bundled_aasist_onnx_cli_scores_like_spoof_detector(aasist_onnx, tmp_path, capsys):
    files = demo_files()
    assert sorted(p.name for p in aasist_onnx.parent.iterdir()) == [
        "README.md", "aasist.json", "aasist.onnx"]
    capsys.readouterr()
    assert score_main(["--model", str(aasist_onnx), *map(str, files), "--no-progress"]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines())
    reference = SpoofDetector.from_hparams("aasist")
    expected = {p.stem: s for p, s in zip(files, [r.score for r in reference.score_each(files)],
                                          strict=True)}
    assert printed.keys() == expected.keys()
    for utt, score in expected.items():
        assert abs(float(printed[utt]) - score) <= 1e-4
    card = (aasist_onnx.parent / "README.md").read_text()
    assert "onnxruntime.InferenceSession(\"aasist.onnx\")" in card
    assert "score = logits[1]" in card  # the bundled model's score is the bona fide logit
    assert "license: mit" in card and "apache" not in card  # NAVER's MIT weights


def test_bundled_aasist_onnx_full_files_of_any_length(aasist_onnx):
    """The whole files in one window: lengths the graph was not traced with."""
    reference = SpoofDetector.from_hparams("aasist").set_window("full")
    portable = PortableSpoofDetector.from_file(aasist_onnx, threads=2).set_window("full")
    assert_same_scores(reference, portable, demo_files())


def test_bundled_aasist_torchscript(tmp_path):
    reference = SpoofDetector.from_hparams("aasist")
    path = export_portable(reference, tmp_path / "ts", "torchscript", name="aasist")
    assert path.name == "aasist.pt"
    portable = PortableSpoofDetector.from_file(path)
    assert_same_scores(reference.set_window("full"), portable.set_window("full"), demo_files(2))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_tiny_lcnn_sliding_windows(tmp_path, fmt):
    torch.manual_seed(0)
    definition = DetectorDefinition("detector: !new:speechbrain_ssdctx.models.LCNN\n"
                                    "    n_mels: 32\n")
    settings = InferenceSettings(window_policy="sliding", window_seconds=1.0, hop_seconds=0.7,
                                 threshold=0.5)
    folder = export_detector(LCNN(n_mels=32), definition, tmp_path / "lcnn", settings=settings)
    reference = SpoofDetector.from_hparams(folder)
    path = export_portable(reference, tmp_path / fmt, fmt)
    assert json.loads(path.with_suffix(".json").read_text())["settings"]["hop_seconds"] == 0.7
    portable = PortableSpoofDetector.from_file(path)
    assert_same_scores(reference, portable, demo_files(2))
    assert_same_scores(reference.set_window("full"), portable.set_window("full"), demo_files(2))


def test_tiny_ssl_detector(tmp_path):
    pytest.importorskip("transformers")
    from ssl_utils import build_tiny_ssl_model

    from speechbrain_ssdctx.models.ssl import AASISTBackend, SSLDetector, SSLEncoder

    source = build_tiny_ssl_model(tmp_path / "tiny")
    detector = SSLDetector(SSLEncoder(str(source)), AASISTBackend)
    text = ("detector: !new:speechbrain_ssdctx.models.ssl.SSLDetector\n"
            "    encoder: !new:speechbrain_ssdctx.models.ssl.SSLEncoder\n"
            f"        source: {source}\n"
            "    head: !name:speechbrain_ssdctx.models.ssl.AASISTBackend\n")
    folder = export_detector(detector, DetectorDefinition(text), tmp_path / "ssl")
    reference = SpoofDetector.from_hparams(folder).set_window("full")
    for fmt in ("onnx", "torchscript"):
        path = export_portable(reference, tmp_path / fmt, fmt, name="ssl")
        assert_same_scores(reference, PortableSpoofDetector.from_file(path).set_window("full"),
                           demo_files(2))


def test_refuses_user_folders_and_tampered_files(aasist_onnx, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="Refusing to export"):
        export_portable(SpoofDetector.from_hparams("aasist"), mine, "onnx")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "aasist.onnx").write_bytes(aasist_onnx.read_bytes()[:-10])
    (copy / "aasist.json").write_text(aasist_onnx.with_suffix(".json").read_text())
    with pytest.raises(PortableModelError, match="sha256 differs"):
        PortableSpoofDetector.from_file(copy / "aasist.onnx")
    (copy / "aasist.json").unlink()
    with pytest.raises(PortableModelError, match="no settings file"):
        PortableSpoofDetector.from_file(copy / "aasist.onnx")


ECAPA = """detector: !new:speechbrain_ssdctx.models.Detector
    features: !new:speechbrain.lobes.features.Fbank
        n_mels: 24
    normalize: !new:speechbrain.processing.features.InputNormalization
        norm_type: sentence
        std_norm: False
    encoder: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
        input_size: 24
        channels: [32, 32, 32, 32, 96]
        lin_neurons: 16
    classifier: !new:torch.nn.Linear
        in_features: 16
        out_features: 2
"""


def test_detector_over_speechbrain_lobes(tmp_path):
    """hparams/models/ecapa.yaml's structure (Fbank, sentence normalisation, ECAPA-TDNN),
    narrower: its ONNX file scores files of several lengths like SpoofDetector (ONNX only:
    TorchScript goes through the same tracing, checked on the other models)."""
    from hyperpyyaml import load_hyperpyyaml

    torch.manual_seed(0)
    detector = load_hyperpyyaml(ECAPA)["detector"]
    folder = export_detector(detector, DetectorDefinition(ECAPA), tmp_path / "ecapa")
    reference = SpoofDetector.from_hparams(folder).set_window("full")
    path = export_portable(reference, tmp_path / "onnx", "onnx", name="ecapa")
    # ECAPA-TDNN's masks take the batch size as a Python number: one window per run
    assert json.loads(path.with_suffix(".json").read_text())["input"]["shape"][0] == 1
    portable = PortableSpoofDetector.from_file(path)
    for window in (("full",), ("sliding", 1.0, 0.5)):
        assert_same_scores(reference.set_window(*window), portable.set_window(*window),
                           demo_files(2))
