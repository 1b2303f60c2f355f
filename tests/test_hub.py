"""Export of a training output folder, offline loading of the result, Hub upload errors."""

import json
import pathlib
import sys

import huggingface_hub
import numpy as np
import pytest
import soundfile
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.hub import ExportError, HubUploadError, export_model, push_to_hub
from speechbrain_ssdctx.inference import SpoofDetector
from speechbrain_ssdctx.models import LCNN

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
LA = FIXTURES / "asvspoof2019_la" / "LA"
FILES = [
    LA / "ASVspoof2019_LA_train" / "flac" / "LA_T_1272637.flac",
    LA / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1003356.flac",
    FIXTURES / "edge_cases" / "very_short_0p1s_16k.wav",
]
INFERENCE_YAML = """sample_rate: 16000
window_policy: full
window_samples: null
min_samples: 4000
detector: !new:speechbrain_ssdctx.models.LCNN
    n_mels: 32
"""
DEV_EERS = (5.0, 3.0, 4.0)  # the second checkpoint is the best
THRESHOLD = 0.25


def perturb(model: torch.nn.Module, seed: int) -> None:
    """New random weights and BatchNorm statistics, so that every checkpoint differs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator)).abs_()


@pytest.fixture(scope="module")
def training_dir(tmp_path_factory) -> pathlib.Path:
    """A training output folder in the layout of recipes/train.py, with a tiny LCNN."""
    out = tmp_path_factory.mktemp("train_out")
    (out / "inference.yaml").write_text(INFERENCE_YAML)
    model = LCNN(n_mels=32)
    optimizer = torch.optim.Adam(model.parameters())
    checkpointer = Checkpointer(out / "save", {"detector": model, "optimizer": optimizer})
    for seed, eer in enumerate(DEV_EERS):
        perturb(model, seed)
        checkpointer.save_checkpoint(meta={"EER": eer}, name=f"epoch{seed}")
    recipe = out / "hparams" / "lcnn_test.yaml"
    recipe.parent.mkdir()
    recipe.write_text("seed: 1\nlr: 0.0003\n")
    (out / "hyperparams.yaml").write_text(
        f"# Generated 2025-01-01 from:\n# {recipe}\n# yamllint disable\nseed: 100\nlr: 0.0003\n"
    )
    results = {
        "dev": {"eer": 3.0, "eer_threshold": THRESHOLD, "bonafide": 10, "spoof": 20},
        "2019_LA_eval": {"eer": 0.05, "min_tdcf": 0.125},
    }
    (out / "results.json").write_text(json.dumps(results))
    (out / "results.md").write_text("| set | EER (%) |\n|---|---|\n| 2019_LA_eval | 5.000 |\n")
    return out


@pytest.fixture(scope="module")
def exported(training_dir, tmp_path_factory) -> pathlib.Path:
    return export_model(training_dir, tmp_path_factory.mktemp("export") / "lcnn-test")


def checkpoint_scores(checkpoint: pathlib.Path) -> list[float]:
    """Log-odds of FILES by the checkpoint's weights called directly on the whole file
    (tiled to ``min_samples`` = 4000 when shorter)."""
    model = LCNN(n_mels=32).eval()
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    scores = []
    for path in FILES:
        wav, _ = soundfile.read(path, dtype="float32")
        if len(wav) < 4000:
            wav = np.tile(wav, 4000 // len(wav) + 1)[:4000]
        with torch.no_grad():
            logits = model(torch.from_numpy(wav).unsqueeze(0))[1][0]
        scores.append(float(logits[1] - logits[0]))
    return scores


def fetching_module():
    """SpeechBrain's fetching module as loaded now (SpeechBrain's lazy imports may have
    replaced the one a top-level import would give)."""
    return sys.modules["speechbrain.utils.fetching"]


@pytest.fixture
def no_network(monkeypatch):
    """Offline mode, and any attempt to download fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args} {kwargs}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(fetching_module(), "download_file_hf", forbidden)
    monkeypatch.setattr(fetching_module(), "download_file", forbidden)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", forbidden)


def test_export_then_load_offline_gives_the_training_scores(training_dir, exported, no_network):
    assert sorted(p.name for p in exported.iterdir()) == [
        "README.md",
        "detector.ckpt",
        "hyperparams.yaml",
        "training_hyperparams.yaml",
    ]
    detector = SpoofDetector.from_hparams(exported)
    scores = [detector.score_file(path) for path in FILES]
    checkpoints = sorted((training_dir / "save").glob("CKPT+*"))
    expected = {ckpt.name: checkpoint_scores(ckpt / "detector.ckpt") for ckpt in checkpoints}
    best = checkpoints[DEV_EERS.index(min(DEV_EERS))].name
    assert scores == pytest.approx(expected[best], abs=1e-5)
    for name, other in expected.items():
        if name != best:
            assert other != pytest.approx(scores, abs=1e-3)
    decision = detector.classify_file(FILES[0])
    assert decision.threshold == THRESHOLD
    assert decision.is_bonafide == (scores[0] >= THRESHOLD)


def test_exported_yaml_names_no_remote_paths(exported):
    with open(exported / "hyperparams.yaml") as stream:
        hparams = load_hyperpyyaml(stream)
    assert hparams["pretrainer"].paths == {}
    assert hparams["threshold"] == THRESHOLD
    assert hparams["score_type"] == "log_odds"
    assert hparams["window_policy"] == "full"
    assert set(hparams["modules"]) == {"detector"}


def test_savedir_links_the_files(exported, tmp_path, no_network):
    detector = SpoofDetector.from_hparams(exported, savedir=tmp_path / "saved")
    assert (tmp_path / "saved" / "detector.ckpt").resolve() == (exported / "detector.ckpt")
    direct = SpoofDetector.from_hparams(exported)
    assert detector.score_file(FILES[1]) == pytest.approx(direct.score_file(FILES[1]))


def test_local_folder_never_goes_online(exported, tmp_path, monkeypatch):
    folder = tmp_path / "edited"
    folder.mkdir()
    text = (exported / "hyperparams.yaml").read_text()
    text = text.replace(
        "    custom_hooks:", "    paths:\n        detector: org/repo/x.ckpt\n    custom_hooks:"
    )
    (folder / "hyperparams.yaml").write_text(text)
    calls = []

    def record(hf_kwargs, destination, local_strategy):
        calls.append(hf_kwargs)
        raise FileNotFoundError("not in the local cache")

    monkeypatch.setattr(fetching_module(), "download_file_hf", record)
    with pytest.raises(FileNotFoundError):
        SpoofDetector.from_hparams(folder)
    assert calls and all(call["local_files_only"] for call in calls)


def test_loading_never_unpickles_objects(exported, tmp_path):
    folder = tmp_path / "tampered"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text((exported / "hyperparams.yaml").read_text())
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    state = torch.load(exported / "detector.ckpt", weights_only=True)
    state["payload"] = Payload()
    torch.save(state, folder / "detector.ckpt")
    with pytest.raises(ValueError, match="detector.ckpt"):
        SpoofDetector.from_hparams(folder)
    assert not marker.exists()


def test_model_card(exported):
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: speechbrain\nlicense: apache-2.0\n")
    assert "| 2019_LA_eval | 5.000 |" in card
    assert f"**{THRESHOLD}**" in card
    assert "`lcnn_test.yaml`" in card or "hparams/lcnn_test.yaml" in card
    assert "-seed: 1\n+seed: 100" in card
    assert "LCNN" in card and "ASVspoof 2019 LA training partition" in card
    assert "runs code" in card and "only from sources you trust" in card
    assert "weights_only=True" in card


def test_export_errors_name_the_problem(training_dir, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_model(tmp_path / "nothing", tmp_path / "out")
    empty = tmp_path / "empty"
    (empty / "save").mkdir(parents=True)
    with pytest.raises(ExportError, match="no checkpoint"):
        export_model(empty, tmp_path / "out")
    clash = tmp_path / "clash"
    clash.mkdir()
    for name in ("results.json", "hyperparams.yaml"):
        (clash / name).write_text((training_dir / name).read_text())
    (clash / "save").symlink_to(training_dir / "save")
    (clash / "inference.yaml").write_text(INFERENCE_YAML + "threshold: 1.0\n")
    with pytest.raises(ExportError, match="inference.yaml' already defines"):
        export_model(clash, tmp_path / "out")


def test_export_cli(training_dir, tmp_path, capsys):
    assert export_main([str(training_dir), str(tmp_path / "model"), "--license", "cc-by-4.0"]) == 0
    assert "license: cc-by-4.0" in (tmp_path / "model" / "README.md").read_text()
    assert export_main([str(tmp_path / "missing"), str(tmp_path / "x")]) == 1
    assert "missing' does not exist" in capsys.readouterr().err


def test_push_without_token_fails_clearly(training_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    argv = [str(training_dir), str(tmp_path / "model"), "--push-to-hub", "org/model"]
    assert export_main(argv) == 1
    assert "No HuggingFace token" in capsys.readouterr().err


def test_push_without_network_fails_clearly(exported, monkeypatch):
    unreachable = huggingface_hub.HfApi(endpoint="http://127.0.0.1:9")
    with pytest.raises(HubUploadError, match="Cannot reach the HuggingFace Hub"):
        push_to_hub(exported, "org/model", token="hf_fake", api=unreachable)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUploadError, match="Cannot reach the HuggingFace Hub"):
        push_to_hub(exported, "org/model", token="hf_fake")
