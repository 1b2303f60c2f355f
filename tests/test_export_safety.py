"""Exports that cannot mix or clobber (issue 23, item 3).

An export goes into a new folder or replaces an earlier export whole (a killed export
leaves the old one); any other folder is refused; a failed load check leaves nothing
loadable; the weights' sha256 in the YAML is checked at load; SpeechBrain's HuggingFace
lobes are carried in the folder (it loads offline with the SSL folder gone, and no path
of the training machine is left in it); ModuleList recoverables are searched; the card's
data licence comes from the user's options and the registry of corpora.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import torch
from hub_utils import fake_hub
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.inference import export as export_module
from speechbrain_ssdctx.inference.export import (
    DetectorDefinition,
    ExportError,
    export_detector,
    export_from_hparams,
    run_card,
)
from speechbrain_ssdctx.inference.model_card import ModelCard
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE_EXPORT = ROOT / "tests" / "fixtures" / "exports_0.1.0" / "lcnn-0.1.0"

DEFINITION = """\
detector: !new:speechbrain_ssdctx.models.Detector
    features: !new:speechbrain.lobes.features.Fbank
        n_mels: 20
    encoder: !new:speechbrain.nnet.pooling.StatisticsPooling
    classifier: !new:torch.nn.Linear [40, 2]
"""


def small_detector(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return load_hyperpyyaml(DEFINITION)["detector"]


def export(seed: int, out: pathlib.Path, **kwargs) -> pathlib.Path:
    return export_detector(small_detector(seed), DetectorDefinition(DEFINITION), out, **kwargs)


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def probe_scores(folder: pathlib.Path) -> torch.Tensor:
    wavs = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    detector = SpoofDetector.from_hparams(folder)
    with torch.no_grad():
        return detector.mods.detector(wavs, torch.ones(2))[1]


# ---- where an export may go ---------------------------------------------------------------


def test_a_folder_of_the_users_is_refused_in_one_line_and_left_alone(tmp_path, capsys):
    folder = tmp_path / "my_project"
    folder.mkdir()
    (folder / "README.md").write_text("my notes")
    with pytest.raises(ExportError, match="not an export.*README.md"):
        export(0, folder)
    assert [p.name for p in folder.iterdir()] == ["README.md"]
    assert (folder / "README.md").read_text() == "my notes"
    assert not list(tmp_path.glob(".my_project.*"))  # no staging folder left


def test_the_cli_refuses_a_folder_of_the_users_before_loading_the_run(tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text("mine: 1\n")  # not an export's YAML
    code = export_main(["--hparams", str(tmp_path / "run" / "missing.yaml"), "--checkpoints",
                        str(tmp_path / "run" / "save"), str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "Refusing to export into" in err and len(err.splitlines()) == 1
    assert (folder / "hyperparams.yaml").read_text() == "mine: 1\n"


def test_an_export_over_an_export_replaces_it_whole(tmp_path):
    out = tmp_path / "model"
    export(0, out, training_hyperparams="lr: 0.1\n")
    assert (out / "training_hyperparams.yaml").is_file()
    export(1, out)  # no training hyperparameters this time
    assert not (out / "training_hyperparams.yaml").exists()  # nothing of the first is kept
    torch.testing.assert_close(probe_scores(out), probe_scores(export(1, tmp_path / "fresh")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "model"]


def test_an_empty_folder_is_a_new_export(tmp_path):
    (tmp_path / "model").mkdir()
    assert (export(0, tmp_path / "model") / "detector.ckpt").is_file()


KILLED_EXPORT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from speechbrain_ssdctx.inference import export as export_module
from test_export_safety import export
def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the new files are all written by now
export_module._check_scores = killed
export(1, __import__("pathlib").Path({out!r}))
"""


@pytest.mark.slow  # a subprocess
def test_an_export_killed_over_an_export_leaves_the_old_one_whole(tmp_path):
    out = tmp_path / "model"
    export(0, out)
    before = {p.name: sha256(p) for p in out.iterdir() if p.is_file()}
    script = KILLED_EXPORT.format(tests=str(ROOT / "tests"), out=str(out))
    process = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.returncode == -9
    assert {p.name: sha256(p) for p in out.iterdir() if p.is_file()} == before
    probe_scores(out)  # still loads: the old export
    export(2, out)  # the next export replaces it (the staging folder of the killed one aside)
    assert sha256(out / "detector.ckpt") != before["detector.ckpt"]


def test_a_failed_load_check_leaves_nothing_loadable(tmp_path, monkeypatch, capsys):
    def failing(*args, **kwargs):
        raise ExportError("The model exported does not score like the detector")

    monkeypatch.setattr(export_module, "_check_scores", failing)
    with pytest.raises(ExportError, match="does not score like"):
        export(0, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    export(0, tmp_path / "old")
    before = {p.name: sha256(p) for p in (tmp_path / "old").iterdir()}
    monkeypatch.setattr(export_module, "_check_scores", failing)
    with pytest.raises(ExportError):
        export(1, tmp_path / "old")
    assert {p.name: sha256(p) for p in (tmp_path / "old").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


# ---- the weights' hash ------------------------------------------------------------------


def test_weights_of_another_export_are_refused_in_one_line(tmp_path):
    first, second = export(0, tmp_path / "a"), export(1, tmp_path / "b")
    yaml_hash = sha256(first / "detector.ckpt")
    assert f"weights_sha256: {yaml_hash}" in (first / "hyperparams.yaml").read_text()
    shutil.copy(second / "detector.ckpt", first / "detector.ckpt")  # a half-copied folder
    with pytest.raises(ValueError, match="mixes files of two exports") as error:
        SpoofDetector.from_hparams(first)
    assert "\n" not in str(error.value)


def test_exports_without_a_hash_still_load():
    assert "weights_sha256" not in (FIXTURE_EXPORT / "hyperparams.yaml").read_text()
    assert SpoofDetector.from_hparams(FIXTURE_EXPORT).mods.detector is not None


# ---- the model card -----------------------------------------------------------------------


def test_the_card_names_the_users_data_never_asvspoof(tmp_path):
    card = run_card(ModelCard(training_data="Our call-centre recordings",
                              datasets=["our-calls"]), {"data_folder": "/data/LA"}, None)
    text = (export(0, tmp_path / "model", card=card) / "README.md").read_text()
    assert "Our call-centre recordings" in text and "our-calls" in text
    assert "ASVspoof" not in text and "ODC-By" not in text
    assert "Training data: not recorded at export" in text


def test_the_cli_card_takes_the_data_licence_and_citation(tmp_path):
    card = ModelCard(training_data="Our calls", datasets=["our-calls"],
                     data_licence="CC-BY-4.0", citation="Doe et al., 2025")
    text = (export(0, tmp_path / "model", card=card) / "README.md").read_text()
    assert "Training data: CC-BY-4.0; cite Doe et al., 2025." in text


def test_the_card_of_a_known_corpus_comes_from_the_registry(tmp_path):
    card = run_card(ModelCard(), {"data_folder": None, "asvspoof5_folder": "/data/5"}, None)
    text = (export(0, tmp_path / "model", card=card) / "README.md").read_text()
    assert card.datasets == ["asvspoof5"]
    assert "ASVspoof 2019" not in text.split("## Licence")[1]
    assert "Wang et al., 2024" in text.split("## Licence")[1]


# ---- SSL front ends of any recipe, ModuleList recoverables --------------------------------

RECIPE = """\
output_folder: !PLACEHOLDER
ssl_folder: !PLACEHOLDER
sample_rate: 16000
wav2vec2: !new:speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2
    source: !ref <ssl_folder>
    save_path: !ref <ssl_folder>
    freeze: False
pooling: !new:speechbrain.nnet.pooling.StatisticsPooling
classifier: !new:torch.nn.Linear [64, 2]
detector: !new:speechbrain_ssdctx.models.Detector
    features: !ref <wav2vec2>
    encoder: !ref <pooling>
    classifier: !ref <classifier>
model: !new:torch.nn.ModuleList
    - [!ref <detector>]
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
    checkpoints_dir: !ref <output_folder>/save
    recoverables:
        model: !ref <{recoverable}>
"""


@pytest.fixture(params=["model", "detector"], ids=["module_list", "detector"])
def ssl_run(tmp_path, request):
    """A run of a recipe with SpeechBrain's wav2vec2 lobe (the checkpointer saving a
    ModuleList holding the detector, or the detector), fine-tuned (weights moved away
    from the pretrained ones) and checkpointed."""
    pytest.importorskip("transformers")
    from ssl_utils import build_tiny_ssl_model

    ssl_folder = build_tiny_ssl_model(tmp_path / "machine" / "ssl" / "tiny_w2v2")
    output = tmp_path / "machine" / "run"
    recipe = tmp_path / "machine" / "train.yaml"
    recipe.write_text(RECIPE.format(recoverable=request.param))
    overrides = {"output_folder": str(output), "ssl_folder": str(ssl_folder)}
    with open(recipe) as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    with torch.no_grad():
        for parameter in hparams["detector"].parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    hparams["checkpointer"].save_checkpoint()
    return recipe, overrides, hparams["detector"].eval()


@pytest.mark.slow
def test_a_module_list_recoverable_is_searched(ssl_run, tmp_path):
    recipe, overrides, detector = ssl_run
    out = export_from_hparams(recipe, pathlib.Path(overrides["output_folder"]) / "save",
                              tmp_path / "exported", overrides=overrides)
    assert (out / "detector.ckpt").is_file()


@pytest.mark.slow
def test_an_ssl_lobe_export_scores_identically_without_the_ssl_folder(
    ssl_run, tmp_path, monkeypatch
):
    recipe, overrides, detector = ssl_run
    out = export_from_hparams(recipe, pathlib.Path(overrides["output_folder"]) / "save",
                              tmp_path / "exported", overrides=overrides)
    wavs = torch.randn(2, 16000, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = detector(wavs, torch.ones(2))[1]
    training_paths = [str(tmp_path / "machine"), overrides["ssl_folder"]]
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".md", ".py", ".txt"):
            text = path.read_text(encoding="utf-8")
            assert not [p for p in training_paths if p in text], path
    shutil.move(tmp_path / "machine", tmp_path / "gone")  # another machine: no SSL folder
    moved = shutil.move(out, tmp_path / "elsewhere")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path / "gone")
    loaded = SpoofDetector.from_hparams(moved)
    fake_hub(monkeypatch, moved, "my-org/ssl-detector", tmp_path / "cache")
    from_hub = SpoofDetector.from_hparams("my-org/ssl-detector")  # carried SSL files too
    for model in (loaded, from_hub):
        with torch.no_grad():
            logits = model.mods.detector(wavs, torch.ones(2))[1]
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)  # as export checks
