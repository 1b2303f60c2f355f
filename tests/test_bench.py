"""ssdctx-bench on a slice of the demo corpus and a labelled CSV; interrupted, then resumed."""

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.cli import bench as bench_cli
from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.evaluation.benchmark import Benchmark
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.evaluation.sets import resolve_test_sets

sys.path.insert(0, str(Path(__file__).parent))
from tiny_detector import model_folder, reference_logits  # noqa: E402

pytestmark = pytest.mark.slow  # loads a model and reads audio (about 3 s)


@pytest.fixture
def setup(tmp_path):
    files = sorted((demo_corpus_folder() / "ASVspoof2019_LA_dev" / "flac").glob("*.flac"))[:4]
    csv = tmp_path / "mine.csv"
    csv.write_text("path,label\n" + "".join(
        f"{f},{label}\n" for f, label in zip(files, ["bonafide", "spoof"] * 2, strict=True)))
    model = model_folder(tmp_path / "tiny")
    args = ["--model", f"tiny={model}", "--trust-remote-code", "--test", "demo",
            "--test", str(csv), "--out", str(tmp_path / "bench"), "--max-per-class", "2",
            "--bootstrap", "50", "--no-progress"]
    return tmp_path, args


def test_bench_writes_the_table_and_resumes(setup, monkeypatch, capsys):
    tmp_path, args = setup
    scored = []
    original = Benchmark.score_set

    def killed_after_first(self, detector, model, test_set):
        if scored:
            raise bench_cli.Interrupted(15)  # SIGTERM during the second set
        scored.append(test_set.name)
        return original(self, detector, model, test_set)

    monkeypatch.setattr(Benchmark, "score_set", killed_after_first)
    assert bench_cli.main(args) == 143
    assert "--resume" in capsys.readouterr().err
    first = tmp_path / "bench" / "scores" / "tiny" / "demo_eval.txt"
    stamp = first.stat().st_mtime_ns
    # without --resume the earlier scores are not silently reused
    assert bench_cli.main(args) == 1
    assert "--resume" in capsys.readouterr().err

    scored.clear()
    monkeypatch.setattr(Benchmark, "score_set", lambda self, *a: (
        scored.append(a[2].name), original(self, *a))[1])
    assert bench_cli.main([*args, "--resume"]) == 0
    assert scored == ["labelled_mine"]  # the demo set was not scored again
    assert first.stat().st_mtime_ns == stamp
    table = json.loads((tmp_path / "bench" / "bench.json").read_text())["results"]["tiny"]
    assert list(table["sets"]) == ["demo_eval", "labelled_mine"]
    assert table["sets"]["demo_eval"]["trials"] == 4 and table["sets"]["labelled_mine"][
        "trials"] == 4
    # the pooled EER: over the union of both sets' trials, computed here directly
    bona, spoof = [], []
    for spec in ("demo", str(tmp_path / "mine.csv")):
        for test_set in resolve_test_sets(spec, tmp_path / "bench" / "manifests"):
            scores = read_score_file(tmp_path / "bench" / "scores" / "tiny" /
                                     f"{test_set.name}.txt")
            for row in test_set.rows(max_per_class=2):
                (bona if row["label"] == "bonafide" else spoof).append(scores[row["ID"]])
    assert len(bona) == len(spoof) == 4
    assert table["pooled_eer"] == pytest.approx(100 * compute_eer(np.array(bona),
                                                                  np.array(spoof))[0])
    markdown = (tmp_path / "bench" / "bench.md").read_text()
    assert "| tiny | demo eval | 4 |" in markdown and "Pooled EER" in markdown
    assert (tmp_path / "bench" / "bench.png").stat().st_size > 1000


def test_bench_refuses_unknown_sets(tmp_path, capsys):
    args = ["--model", "x", "--test", "nothing_here", "--out", str(tmp_path / "b")]
    assert bench_cli.main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a registered corpus" in err


def test_bench_on_a_bonafide_and_spoof_folder(tmp_path):
    """A folder test set: bonafide/ and spoof/ (searched recursively) are the keys; each
    score is the tiny detector's closed form, and the EER that of a loop over thresholds."""
    flac = demo_corpus_folder() / "ASVspoof2019_LA_dev" / "flac"
    layout = {"bonafide/a.flac": "LA_D_0000001", "bonafide/b.flac": "LA_D_0000002",
              "bonafide/c.flac": "LA_D_0000007", "spoof/tts/d.flac": "LA_D_0000003",
              "spoof/e.flac": "LA_D_0000005", "spoof/f.flac": "LA_D_0000006"}
    reference = {}
    for name, utt in layout.items():
        (tmp_path / "calls" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(flac / f"{utt}.flac", tmp_path / "calls" / name)
        wav, _ = soundfile.read(flac / f"{utt}.flac", dtype="float32")
        logits = reference_logits(torch.from_numpy(wav[:16000]))  # the first second
        reference[name] = float(logits[1] - logits[0])
    model = model_folder(tmp_path / "tiny", policy="first", samples=16000)
    args = ["--model", f"tiny={model}", "--trust-remote-code",
            "--test", str(tmp_path / "calls"), "--out", str(tmp_path / "bench"),
            "--bootstrap", "20", "--no-progress"]
    assert bench_cli.main(args) == 0
    table = json.loads((tmp_path / "bench" / "bench.json").read_text())["results"]["tiny"]
    (name, row), = table["sets"].items()
    scores = read_score_file(tmp_path / "bench" / "scores" / "tiny" / f"{name}.txt")
    assert row["trials"] == 6 and len(scores) == 6
    ids = {re.sub(r"[^A-Za-z0-9._-]+", "_", n.removesuffix(".flac")): n for n in layout}
    assert {ids[utt]: score for utt, score in scores.items()} == pytest.approx(reference,
                                                                              abs=1e-4)
    bona = np.array([s for n, s in reference.items() if n.startswith("bonafide/")])
    spoof = np.array([s for n, s in reference.items() if n.startswith("spoof/")])
    assert row["eer"]["estimate"] == pytest.approx(loop_eer(bona, spoof))
    assert loop_eer(bona, spoof) != pytest.approx(loop_eer(spoof, bona))  # keys matter


def loop_eer(bonafide: np.ndarray, spoof: np.ndarray) -> float:
    """EER (%) by a loop over thresholds (FRR = P(bona fide < t), FAR = P(spoof >= t)):
    the mean of the two where they are closest."""
    best = None
    for threshold in np.sort(np.concatenate([bonafide, spoof, [np.inf]])):
        frr, far = np.mean(bonafide < threshold), np.mean(spoof >= threshold)
        if best is None or abs(frr - far) < best[0]:
            best = (abs(frr - far), (frr + far) / 2)
    return 100 * best[1]
