"""The training recipe end to end: every hparams file, the ablation switches, the outputs."""

import json
import re
from pathlib import Path

import pytest
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from recipe_utils import HPARAMS, QUICK, run_train

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.data.asvspoof import read_manifest
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.inference.hub import detector_definition
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector
from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.training.experiment import (
    build_datasets,
    prepare_manifests,
    score_test_sets,
)
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs

# The loss parts each system must log (train_log.txt), i.e. which modules are on.
EXPECTED_PARTS = {
    "lcnn.yaml": {"cls"},
    "lcnn_specaug.yaml": {"cls"},
    "lcnn_inf_ini.yaml": {"cls", "cls_masked", "inf", "ini"},
    "aasist.yaml": {"cls"},
    "aasist_inf_ini.yaml": {"cls", "cls_masked", "inf", "ini"},
    "ecapa_inf_ini.yaml": {"cls", "cls_masked", "inf", "ini"},
    "aasist_official.yaml": {"cls"},
}


def test_every_hparams_file_is_covered():
    # The SSL recipes (ssl_*.yaml) need an SSL model: tests/test_ssl*.py run them on tiny ones.
    names = {p.name for p in HPARAMS.glob("*.yaml") if not p.name.startswith("ssl_")}
    assert names == set(EXPECTED_PARTS)


def logged_parts(output: Path) -> set[str]:
    """The loss parts in the last epoch line of train_log.txt."""
    line = [x for x in (output / "train_log.txt").read_text().splitlines() if "epoch:" in x][-1]
    return set(re.findall(r"train (\w+):", line)) - {"loss"}


@pytest.mark.parametrize("hparams", sorted(EXPECTED_PARTS))
def test_short_run_of_every_system(hparams, tmp_path, request):
    if hparams == "lcnn_inf_ini.yaml":  # the quick run other tests read too
        output = request.getfixturevalue("quick_lcnn_inf_ini_run")
    else:
        output = tmp_path / "run"
        run_train(hparams, output)
    assert logged_parts(output) == EXPECTED_PARTS[hparams]

    # Score files hold one score per trial of the (sliced) set, and results.json holds
    # the EER of exactly those scores (compute_eer is checked against the official
    # values in test_metrics.py).
    results = json.loads((output / "results.json").read_text())
    assert set(results) == {"dev", "2019LA_eval"}
    for name, split in (("dev", "dev"), ("2019LA_eval", "eval")):
        scores = read_score_file(output / "scores" / f"{name}.txt")
        assert len(scores) == 6
        labels = {row["ID"]: row["label"] for row in read_manifest(
            demo_corpus_manifest(output, split))}
        bona = [s for u, s in scores.items() if labels[u] == "bonafide"]
        spoof = [s for u, s in scores.items() if labels[u] == "spoof"]
        assert len(bona) == len(spoof) == 3
        assert results[name]["eer"] == pytest.approx(100 * compute_eer(bona, spoof)[0])
    table = (output / "results.md").read_text()
    assert "| demo eval |" in table and "2019 LA" not in table  # demo sets, called so

    # The detector's block, as run, rebuilds the trained detector class on its own.
    definition = detector_definition(output / "hyperparams.yaml")
    training = load_hyperpyyaml(open_hparams(HPARAMS / hparams),
                                {"output_folder": str(tmp_path / "unused")})
    assert type(load_hyperpyyaml(definition.text)[definition.key]) is type(training["detector"])


def demo_corpus_manifest(output: Path, split: str) -> Path:
    path = output / "manifests" / f"asvspoof2019_la_{split}.csv"
    assert str(demo_corpus_folder()) in path.read_text()
    return path


def quick_brain(tmp_path, **overrides):
    """A DetectorBrain from lcnn_inf_ini.yaml, built in-process with overrides."""
    overrides = {"output_folder": str(tmp_path), "n_mels": 32, **overrides}
    hparams = load_hyperpyyaml(open_hparams(HPARAMS / "lcnn_inf_ini.yaml"), overrides)
    brain = DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"noprogressbar": True}, checkpointer=hparams["checkpointer"],
    )
    brain.init_optimizers()
    brain.on_stage_start(sb.Stage.TRAIN)
    return brain


def fake_batch(batch=4, seconds=0.5):
    torch.manual_seed(0)
    return sb.dataio.batch.PaddedBatch([
        {"id": f"u{i}", "sig": torch.randn(int(16000 * seconds)), "label_id": i % 2}
        for i in range(batch)
    ])


ABLATIONS = {
    "baseline": ({"use_inf": False, "use_ini": False}, {"cls"}),
    "+InF": ({"use_ini": False}, {"cls", "cls_masked", "inf"}),
    "+InI": ({"use_inf": False}, {"cls", "ini"}),
    "+InF+InI": ({}, {"cls", "cls_masked", "inf", "ini"}),
    "+InF without consistency": ({"use_ini": False, "lambda_inf": 0.0},
                                 {"cls", "cls_masked", "inf"}),
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_switches_change_the_computed_losses(name, tmp_path):
    overrides, parts = ABLATIONS[name]
    brain = quick_brain(tmp_path, **overrides)
    context = brain.modules.context
    # Fill the bank once so that L_InI is a real term (it is 0 on an empty bank).
    brain.fit_batch(fake_batch())
    brain.on_stage_start(sb.Stage.TRAIN)
    total, logged = context(brain.modules.detector, *fake_batch().sig, fake_batch().label_id)
    assert set(logged) == parts
    # The total is the paper's weighted sum of exactly the enabled parts.
    weights = {"cls": 1.0, "cls_masked": 1.0, "inf": context.lambda_inf if "inf" in parts
               else 0.0, "ini": context.lambda_ini if "ini" in parts else 0.0}
    expected = sum(weights[k] * float(v.detach()) for k, v in logged.items())
    assert float(total.detach()) == pytest.approx(expected, rel=1e-5)
    if "ini" in parts:
        assert float(logged["ini"].detach()) > 0
    if name == "+InF without consistency":  # the KL is logged but gives no gradient
        assert not logged["inf"].requires_grad


def test_learning_rate_halves_after_every_ten_epochs(tmp_path):
    brain = quick_brain(tmp_path)
    rates = []
    for _ in range(25):
        rates.append(brain.optimizer.param_groups[0]["lr"])
        brain.optimizer.step()  # (no gradients: changes nothing, keeps the call order)
        brain.lr_scheduler.step()
    assert rates[:10] == [3e-4] * 10
    assert rates[10:20] == pytest.approx([1.5e-4] * 10)
    assert rates[20:25] == pytest.approx([7.5e-5] * 5)


def test_bf16_training_runs_with_float32_scores(tmp_path):
    output = tmp_path / "run"
    run_train("lcnn_inf_ini.yaml", output, "--precision=bf16")
    scores = read_score_file(output / "scores" / "dev.txt")
    assert len(scores) == 6 and all(torch.isfinite(torch.tensor(list(scores.values()))))


def test_quick_overrides_are_documented_defaults():
    # The quick-run overrides only shrink the run; the YAML keeps the paper's settings.
    hparams = load_hyperpyyaml(open_hparams(HPARAMS / "lcnn_inf_ini.yaml"),
                               {"output_folder": "/tmp/unused"})
    assert hparams["number_of_epochs"] == 100 and hparams["batch_size"] == 64
    assert hparams["train_seconds"] == 6.0 and hparams["lr"] == 3e-4
    assert (hparams["lambda_inf"], hparams["lambda_ini"]) == (0.1, 1.0)
    assert all(q.startswith("--") for q in QUICK)


def test_exported_model_scores_like_the_training_run(quick_lcnn_inf_ini_run, tmp_path):
    output = quick_lcnn_inf_ini_run
    exported = tmp_path / "exported"
    assert export_main([str(output), str(exported)]) == 0
    detector = SpoofDetector.from_hparams(source=str(exported), savedir=str(tmp_path / "load"))
    training_scores = read_score_file(output / "scores" / "dev.txt")
    wavs = {row["ID"]: row["wav"] for row in read_manifest(output / "manifests" /
                                                           "asvspoof2019_la_dev.csv")}
    for utt_id, score in training_scores.items():
        assert detector.score_file(wavs[utt_id]) == pytest.approx(score, abs=1e-4)
    results = json.loads((output / "results.json").read_text())
    assert detector.threshold == pytest.approx(results["dev"]["eer_threshold"])


def test_test_sets_are_scored_with_the_average_of_checkpoints(tmp_path):
    """``average_checkpoints: 2``: score_test_sets scores with the average of the two
    best checkpoints, i.e. as a checkpoint holding their weights averaged by a loop."""
    overrides = {"output_folder": str(tmp_path), "n_mels": 32, "max_utterances_per_class": 3,
                 "eval_seconds": 1.0, "eval_batch_size": 6, "num_workers": 0,
                 "average_checkpoints": 2}
    hparams = load_hyperpyyaml(open_hparams(HPARAMS / "lcnn_inf_ini.yaml"), overrides)
    brain = DetectorBrain(modules=hparams["modules"], hparams=hparams,  # no optimiser: scored
                          run_opts={"noprogressbar": True}, checkpointer=hparams["checkpointer"])
    manifests = prepare_manifests(hparams)
    datasets = {"dev": build_datasets(hparams, manifests)["dev"]}
    detector, generator = hparams["detector"], torch.Generator().manual_seed(0)
    saved = []
    for eer in (5.0, 3.0, 4.0):  # the last two are the best
        with torch.no_grad():
            for tensor in detector.state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
        saved.append(brain.checkpointer.save_checkpoint(meta={"EER": eer}))
    score_test_sets(brain, datasets, manifests, hparams)
    averaged = read_score_file(tmp_path / "scores" / "dev.txt")
    assert (tmp_path / "save" / "CKPT+averaged").is_dir() and len(averaged) == 6

    states = [torch.load(c.paramfiles["detector"], weights_only=True) for c in saved[1:]]
    mean = {}
    for name, newest in states[-1].items():
        mean[name] = newest
        if newest.is_floating_point():
            mean[name] = (sum(state[name].double() for state in states) / 2).float()
    detector.load_state_dict(mean)
    brain.checkpointer.save_checkpoint(meta={"EER": 1.0})  # the best now: scored without
    hparams["average_checkpoints"] = 0
    score_test_sets(brain, datasets, manifests, hparams)
    by_hand = read_score_file(tmp_path / "scores" / "dev.txt")
    assert by_hand.keys() == averaged.keys()
    assert list(averaged.values()) == pytest.approx(list(by_hand.values()), abs=1e-5)
