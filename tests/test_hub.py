"""Export of trained detectors, offline loading of the result (folder, Hub id, SpeechBrain's
foreign_class, bundled folders by path), the model card, and Hub upload errors."""

import json
import pathlib
import re
import shutil
import sys

import huggingface_hub
import pytest
import soundfile
import torch
import yaml
from hub_utils import fake_hub
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.inference.interfaces import Pretrained, foreign_class

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.evaluation.report import METRIC_NOTE
from speechbrain_ssdctx.inference import SpoofDetector, bundled_models_dir
from speechbrain_ssdctx.inference.hub import (
    ExportError,
    HubUploadError,
    InferenceSettings,
    ModelCard,
    export_from_hparams,
    export_model,
    model_card,
    push_to_hub,
)
from speechbrain_ssdctx.method.contract import ContractAdapter
from speechbrain_ssdctx.models import LCNN
from speechbrain_ssdctx.training.checkpoints import write_complete_marker
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams

pytestmark = pytest.mark.slow  # end-to-end: exports and loads models

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
LA = FIXTURES / "asvspoof2019_la" / "LA"
FILES = [
    LA / "ASVspoof2019_LA_train" / "flac" / "LA_T_1272637.flac",
    LA / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1003356.flac",
]
DEV_EERS = (5.0, 3.0, 4.0)  # the second checkpoint is the best
THRESHOLD = 0.25


@pytest.fixture(scope="module")
def training_dir(tmp_path_factory) -> pathlib.Path:
    """A run folder in the layout of recipes/train.py on the demo corpus (lcnn_inf_ini,
    n_mels 32): the hyperparameters as run, three checkpoints of different weights, and
    results.json. Built without training: the weights are perturbed between saves."""
    out = tmp_path_factory.mktemp("train_out") / "run"
    overrides = {"output_folder": str(out), "n_mels": 32, "eval_window": "full"}
    out.mkdir()
    recipe = ROOT / "hparams" / "lcnn_inf_ini.yaml"  # made of blocks: open_hparams
    (out / "hyperparams.yaml").write_text(
        resolve_references(open_hparams(recipe), overrides).getvalue())
    hparams = load_hyperpyyaml(open_hparams(recipe), overrides)
    generator = torch.Generator().manual_seed(0)
    for index, eer in enumerate(DEV_EERS):
        with torch.no_grad():
            for tensor in hparams["detector"].state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator)).abs_()
        hparams["checkpointer"].save_checkpoint(meta={"EER": eer}, name=f"epoch{index}")
    results = {
        "dev": {"eer": 3.0, "eer_threshold": THRESHOLD, "bonafide": 10, "spoof": 9},
        "2019LA_eval": {"eer": 5.0, "eer_threshold": 0.1, "bonafide": 12, "spoof": 31},
    }
    (out / "results.json").write_text(json.dumps(results))
    return out


@pytest.fixture(scope="module")
def exported(training_dir, tmp_path_factory) -> pathlib.Path:
    return export_model(training_dir, tmp_path_factory.mktemp("export") / "lcnn-test")


def checkpoint_scores(checkpoint: pathlib.Path, bonafide_index: int = 1,
                      files=FILES) -> list[float]:
    """Scores of ``files`` by the checkpoint's weights, the LCNN called directly on each."""
    model = LCNN(n_mels=32).eval()
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    scores = []
    for path in files:
        wav, _ = soundfile.read(path, dtype="float32")
        with torch.no_grad():
            logits = model(torch.from_numpy(wav).unsqueeze(0))[1][0]
        scores.append(float(logits[bonafide_index] - logits[1 - bonafide_index]))
    return scores


def best_checkpoint(training_dir) -> pathlib.Path:
    checkpoints = sorted((training_dir / "save").glob("CKPT+*"))
    return checkpoints[DEV_EERS.index(min(DEV_EERS))] / "detector.ckpt"


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


def test_export_of_a_run_scores_like_its_best_checkpoint(training_dir, exported, no_network):
    assert sorted(p.name for p in exported.iterdir()) == [
        "README.md", "custom_interface.py", "detector.ckpt", "hyperparams.yaml",
        "training_hyperparams.yaml",
    ]
    detector = SpoofDetector.from_hparams(exported)
    scores = [detector.score_file(path) for path in FILES]
    assert scores == pytest.approx(checkpoint_scores(best_checkpoint(training_dir)), abs=1e-5)
    for other in sorted((training_dir / "save").glob("CKPT+*")):
        if other / "detector.ckpt" != best_checkpoint(training_dir):
            assert checkpoint_scores(other / "detector.ckpt") != pytest.approx(scores, abs=1e-3)
    decision = detector.classify_file(FILES[0])
    assert decision.threshold == THRESHOLD
    assert decision.is_bonafide == (scores[0] >= THRESHOLD)
    # SpeechBrain's own loader gives the same scores.
    interface = foreign_class(source=str(exported), pymodule_file="custom_interface.py",
                              classname="SpoofDetector")
    assert interface.score_file(FILES[1]) == pytest.approx(scores[1], abs=1e-5)


def test_exported_yaml_copies_the_block_and_names_no_paths(training_dir, exported):
    text = (exported / "hyperparams.yaml").read_text()
    block_header = (ROOT / "hparams" / "models" / "lcnn.yaml").read_text().splitlines()[1]
    assert block_header in text and "n_mels: 32" in text
    with open(exported / "hyperparams.yaml") as stream:
        hparams = load_hyperpyyaml(stream)
    assert hparams["pretrainer"].paths == {}
    assert (hparams["threshold"], hparams["score_type"], hparams["window_policy"]) == (
        THRESHOLD, "log_odds", "full")
    assert hparams["bonafide_index"] == 1 and set(hparams["modules"]) == {"detector"}
    assert isinstance(hparams["modules"]["detector"], ContractAdapter)
    for path in exported.iterdir():
        if path.suffix in (".yaml", ".md", ".py"):
            content = path.read_text()
            assert str(training_dir.parent) not in content, path.name
            assert "/tmp" not in content, path.name


def test_model_card_of_a_demo_run(exported):
    card = (exported / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["library_name"] == "speechbrain" and meta["license"] == "apache-2.0"
    assert meta["pipeline_tag"] == "audio-classification" and meta["language"] == ["en"]
    assert {"speechbrain", "anti-spoofing", "lcnn"} <= set(meta["tags"])
    assert meta["datasets"] == ["speechbrain-ssdctx-demo"] and meta["metrics"] == ["eer"]
    (index,) = meta["model-index"]
    entries = {r["dataset"]["name"]: r["metrics"][0]["value"] for r in index["results"]}
    assert entries == {"speechbrain-ssdctx demo corpus (dev)": 3.0,
                       "speechbrain-ssdctx demo corpus (eval)": 5.0}
    # The demo corpus is never called ASVspoof (the note on the ASVspoof 5 metric
    # definitions under the results table names the metrics, not the data).
    assert "ASVspoof" not in card.replace(METRIC_NOTE, "")
    assert "| demo dev | 10 / 9 | 3.000 |" in body and "| demo eval | 12 / 31 |" in body
    assert "pip install speechbrain-ssdctx" in body
    assert f"**{THRESHOLD}**" in body and "runs code" in body and "weights_only=True" in body


def test_model_card_of_an_asvspoof_run_with_a_hub_id():
    results = {
        "2019LA_eval": {"eer": 1.9, "bonafide": 7355, "spoof": 63882,
                        "min_tdcf_legacy": 0.055},
        "2021DF_eval": {"eer": 20.5, "bonafide": 14869, "spoof": 519059},
    }
    card = model_card(
        ModelCard(repo_id="my-org/lcnn-inf-ini", results=results, recipe="hparams/x.yaml",
                  datasets=["asvspoof2019"]),
        InferenceSettings(threshold=0.5).completed(), ContractAdapter(LCNN(n_mels=32)), "x",
    )
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    assert meta["metrics"] == ["eer", "min-tdcf"] and meta["datasets"] == ["asvspoof2019"]
    entries = meta["model-index"][0]["results"]
    assert entries[0]["dataset"] == {"name": "ASVspoof 2019 LA (eval)", "type": "asvspoof2019",
                                     "split": "eval", "config": "LA"}
    assert entries[0]["metrics"][1] == {"type": "min-tdcf", "value": 0.055, "name": "min t-DCF"}
    assert entries[1]["dataset"]["name"] == "ASVspoof 2021 DF (eval)"
    assert len(entries[1]["metrics"]) == 1
    assert 'SpoofDetector.from_hparams("my-org/lcnn-inf-ini")' in card
    assert 'foreign_class(source="my-org/lcnn-inf-ini"' in card
    assert "| 2019 LA eval | 7355 / 63882 | 1.900 | 0.0550 | legacy |" in card


def test_export_into_the_training_folder_is_refused(training_dir, capsys):
    before = (training_dir / "hyperparams.yaml").read_text()
    for target in (training_dir, training_dir / "exported", training_dir / "save" / "x"):
        assert export_main([str(training_dir), str(target)]) == 1
        assert "Refusing to export into" in capsys.readouterr().err
    assert (training_dir / "hyperparams.yaml").read_text() == before
    assert not (training_dir / "exported").exists()
    with pytest.raises(ExportError, match="training folder"):
        export_from_hparams(training_dir / "hyperparams.yaml", training_dir / "save",
                            training_dir / "save", min_key="EER")


def test_export_of_the_average_of_the_best_checkpoints(training_dir, tmp_path, no_network):
    run = tmp_path / "run"
    shutil.copytree(training_dir, run)  # the module's run stays without an average
    for checkpoint in (run / "save").glob("CKPT+*"):  # as DetectorBrain's checkpointer does
        write_complete_marker(checkpoint)
    out = tmp_path / "lcnn-avg2"
    assert export_main([str(run), str(out), "--average", "2"]) == 0
    assert (run / "save" / "CKPT+averaged").is_dir()
    # the two lowest dev EERs (3.0 and 4.0), averaged here by a loop over their tensors
    best = sorted(range(len(DEV_EERS)), key=DEV_EERS.__getitem__)[:2]
    states = [torch.load(run / "save" / f"CKPT+epoch{index}" / "detector.ckpt",
                         weights_only=True) for index in sorted(best)]
    expected = {}
    for name, newest in states[-1].items():
        if not newest.is_floating_point():  # e.g. BatchNorm's num_batches_tracked
            expected[name] = newest
            continue
        total = torch.zeros(newest.shape, dtype=torch.float64)
        for state in states:
            total += state[name].double()
        expected[name] = (total / len(states)).to(newest.dtype)
    exported = torch.load(out / "detector.ckpt", weights_only=True)  # the LCNN, wrapped
    weights = {name.removeprefix("detector."): tensor for name, tensor in exported.items()
               if name.startswith("detector.")}  # (the wrapper's own state left out)
    assert weights.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(weights[name], tensor, rtol=0, atol=1e-7)
    torch.save(expected, tmp_path / "expected.ckpt")
    score = SpoofDetector.from_hparams(out).score_file(FILES[1])
    assert [score] == pytest.approx(
        checkpoint_scores(tmp_path / "expected.ckpt", files=FILES[1:]), abs=1e-5)


def test_declared_polarity_keeps_higher_meaning_bona_fide(training_dir, tmp_path):
    folder = export_from_hparams(
        training_dir / "hyperparams.yaml", training_dir / "save", tmp_path / "flipped",
        min_key="EER", settings=InferenceSettings(bonafide_index=0, window_policy="full"),
    )
    detector = SpoofDetector.from_hparams(folder)
    scores = [detector.score_file(path) for path in FILES]
    expected = checkpoint_scores(best_checkpoint(training_dir), bonafide_index=0)
    assert scores == pytest.approx(expected, abs=1e-5)
    assert "trained with bona fide at logit index 0" in (folder / "README.md").read_text()


def test_hub_id_loads_offline_from_the_cache(exported, tmp_path, monkeypatch):
    direct = SpoofDetector.from_hparams(exported).score_file(FILES[0])
    fake_hub(monkeypatch, exported, "my-org/lcnn-test", tmp_path / "cache")
    for savedir in (None, tmp_path / "saved"):
        detector = SpoofDetector.from_hparams("my-org/lcnn-test", savedir=savedir)
        assert detector.score_file(FILES[0]) == pytest.approx(direct, abs=1e-6)
    interface = foreign_class(source="my-org/lcnn-test", pymodule_file="custom_interface.py",
                              classname="SpoofDetector", savedir=tmp_path / "foreign")
    assert interface.score_file(FILES[0]) == pytest.approx(direct, abs=1e-6)


def test_bundled_models_load_by_path_too():
    # test_inference.py checks that the short names reproduce the official scores; the
    # bundled folder loaded by path, by SpoofDetector and by SpeechBrain's Pretrained,
    # must hold exactly those weights and settings.
    by_name = SpoofDetector.from_hparams("aasist-l")
    by_path = SpoofDetector.from_hparams(bundled_models_dir(), hparams_file="aasist-l.yaml")
    plain = Pretrained.from_hparams(str(bundled_models_dir()), hparams_file="aasist-l.yaml")
    expected = by_name.mods.detector.state_dict()
    for loaded in (by_path, plain):
        state = loaded.mods.detector.state_dict()
        assert state.keys() == expected.keys()
        assert all(torch.equal(state[key], expected[key]) for key in expected)
    assert by_path.hparams.window_policy == plain.hparams.window_policy == "official"


def test_local_folder_never_goes_online(exported, tmp_path, monkeypatch):
    folder = tmp_path / "edited"
    folder.mkdir()
    text = (exported / "hyperparams.yaml").read_text()
    text = re.sub(  # the pretrainer's indentation, whatever it is
        r"^( +)custom_hooks:", r"\1paths:\n\1\1detector: org/repo/x.ckpt\n\1custom_hooks:",
        text, count=1, flags=re.MULTILINE,
    )
    assert "detector: org/repo/x.ckpt" in text
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


def test_export_errors_name_the_problem(training_dir, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_model(tmp_path / "nothing", tmp_path / "out")
    empty = tmp_path / "empty"
    (empty / "save").mkdir(parents=True)
    (empty / "hyperparams.yaml").write_text((training_dir / "hyperparams.yaml").read_text())
    with pytest.raises(ExportError, match="holds no checkpoint with a 'EER' value"):
        export_model(empty, tmp_path / "out")
    partial = tmp_path / "partial.yaml"  # the checkpointer does not save the detector
    lines = (training_dir / "hyperparams.yaml").read_text().splitlines()
    start = lines.index("checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer")
    lines = [line for i, line in enumerate(lines)
             if not (i > start and line.strip().startswith("detector: *id"))]
    partial.write_text("\n".join(lines))
    with pytest.raises(ExportError, match="do not hold all of 'detector'"):
        export_from_hparams(partial, training_dir / "save", tmp_path / "out")
    local = tmp_path / "local_module.yaml"
    (tmp_path / "my_lobes.py").write_text("import torch\nLinear = torch.nn.Linear\n")
    local.write_text("detector: !new:my_lobes.Linear [4, 2]\ncheckpointer: null\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ExportError, match=r"\['my_lobes'\].*--python-module"):
            from speechbrain_ssdctx.inference.hub import detector_definition, export_detector

            export_detector(torch.nn.Linear(4, 2), detector_definition(local), tmp_path / "m")
    finally:
        sys.path.remove(str(tmp_path))


def test_export_cli_options(training_dir, tmp_path, capsys):
    argv = ["--hparams", str(training_dir / "hyperparams.yaml"), "--checkpoints",
            str(training_dir / "save"), "--min-key", "EER", "--license", "cc-by-4.0",
            "--repo-id", "org/m", "--threshold", "0.5", "--window", "first",
            "--window-seconds", "1.0", str(tmp_path / "model")]
    assert export_main(argv) == 0
    card = (tmp_path / "model" / "README.md").read_text()
    assert "license: cc-by-4.0" in card and 'from_hparams("org/m")' in card
    with open(tmp_path / "model" / "hyperparams.yaml") as stream:
        hparams = load_hyperpyyaml(stream)
    assert (hparams["threshold"], hparams["window_policy"], hparams["window_samples"]) == (
        0.5, "first", 16000)
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
