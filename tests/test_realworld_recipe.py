"""The real-world recipe variant demo-sized and offline: a tiny SSL model trained on the
bundled demo corpus plus a labelled CSV (``train_corpora``) with RawBoost, reverberation
(RIRS_NOISES layout), noise (MUSAN layout) and codecs on; exported, then its robustness
table (``ssdctx-robustness``) on a few demo eval utterances."""

import json
import re

import pytest

pytest.importorskip("transformers")

from corpus_layouts import make_labelled_csv  # noqa: E402
from recipe_utils import run_train  # noqa: E402
from ssl_utils import build_tiny_ssl_model  # noqa: E402
from test_noise_preparation import make_musan, make_rirs_noises  # noqa: E402

from speechbrain_ssdctx.cli import robustness  # noqa: E402
from speechbrain_ssdctx.data import demo_corpus_folder, prepare_musan, prepare_rirs_noises  # noqa: E402
from speechbrain_ssdctx.inference.hub import export_model  # noqa: E402

pytestmark = pytest.mark.slow

CONDITIONS = ["clean", "gsm"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Subprocesses inherit os.environ through recipe_env: nothing may be downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def eval_set(folder, per_class=2):
    """A labelled CSV of a few demo eval utterances (path,label)."""
    demo = demo_corpus_folder()
    protocol = demo / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    taken = {"bonafide": [], "spoof": []}
    for line in protocol.read_text().splitlines():
        utt, label = line.split()[1], line.split()[-1]
        if len(taken[label]) < per_class:
            taken[label].append(utt)
    flac = demo / "ASVspoof2019_LA_eval" / "flac"
    rows = [f"{flac / f'{utt}.flac'},{label}" for label, utts in taken.items() for utt in utts]
    path = folder / "eval.csv"
    path.write_text("path,label\n" + "\n".join(rows) + "\n")
    return path, {utt: label == "bonafide" for label, utts in taken.items() for utt in utts}


def eer_by_thresholds(scores, bonafide):
    """EER (%) from its definition: every cut of the sorted scores (reject the k lowest),
    the first where the miss and false-alarm rates are closest, their mean."""
    ranked = sorted(scores, key=lambda utt: scores[utt])
    n_bona = sum(bonafide[utt] for utt in ranked)
    n_spoof = len(ranked) - n_bona
    best = None
    for k in range(len(ranked) + 1):
        miss = sum(bonafide[utt] for utt in ranked[:k]) / n_bona
        false_alarm = sum(not bonafide[utt] for utt in ranked[k:]) / n_spoof
        if best is None or abs(miss - false_alarm) < abs(best[0] - best[1]):
            best = (miss, false_alarm)
    return 100 * (best[0] + best[1]) / 2


def test_realworld_recipe_trains_exports_and_gets_its_robustness_table(tmp_path):
    ssl_folder = build_tiny_ssl_model(tmp_path / "tiny_wav2vec2")
    musan_csv = prepare_musan(make_musan(tmp_path / "noise"), tmp_path / "csv")["musan_noise"]
    rir_csv = prepare_rirs_noises(make_rirs_noises(tmp_path / "noise"),
                                  tmp_path / "csv")["rirs_simulated"]
    mine = make_labelled_csv(tmp_path / "own", count=4)
    run = tmp_path / "run"
    run_train(
        "ssl_aasist_realworld.yaml", run, f"--ssl_hub={ssl_folder}",
        "--max_utterances_per_class=2", "--eval_window=first", "--train_seconds=0.5",
        "--eval_seconds=0.5",
        f"--noise_csv={musan_csv}", f"--rir_csv={rir_csv}",
        f"--train_corpora=[{{corpus: demo, weight: 1}}, {{csv: {mine}, dev: {mine}, weight: 1}}]",
    )
    hyperparams = (run / "hyperparams.yaml").read_text()
    for switch in ("rawboost", "reverb", "noise", "codec"):  # the whole chain on
        assert re.search(rf"^{switch}: true$", hyperparams, re.M | re.I), switch
    epoch = next(x for x in (run / "train_log.txt").read_text().splitlines() if "epoch: 1" in x)
    drawn = dict(re.findall(r"train utterances_(\w+): (\d+)", epoch))
    assert set(drawn) == {"demo", "mine"}

    exported = export_model(run, tmp_path / "exported")
    test_csv, bonafide = eval_set(tmp_path)
    out = tmp_path / "robustness"
    status = robustness.main([str(out), "--model", str(exported), "--set", str(test_csv),
                              "--conditions", ",".join(CONDITIONS[1:]), "--resamples", "20"])
    assert status == 0
    for name in ("robustness.md", "robustness.json", "robustness.png"):
        assert (out / name).is_file(), name
    table = json.loads((out / "robustness.json").read_text())
    assert list(table) == CONDITIONS
    assert "| gsm |" in (out / "robustness.md").read_text()
    for condition in CONDITIONS:
        lines = robustness.condition_file(out, condition).read_text().splitlines()
        scores = {line.split()[0]: float(line.split()[1]) for line in lines}
        assert scores.keys() == bonafide.keys(), condition
        assert table[condition]["eer"]["estimate"] == pytest.approx(
            eer_by_thresholds(scores, bonafide)), condition
    clean = robustness.condition_file(out, "clean").read_text()
    assert clean != robustness.condition_file(out, "gsm").read_text()  # gsm changed the scores
