"""ssdctx-robustness on the tiny energy detector: table, plot, per-condition scores, EER
against an independent loop, determinism and resumption."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import speechbrain_ssdctx.data
from speechbrain_ssdctx.cli.robustness import main

DEMO = Path(speechbrain_ssdctx.data.__file__).parent / "demo/LA"


def official_eer(bonafide: np.ndarray, spoof: np.ndarray) -> float:
    """EER (%) by a loop over thresholds: FRR = P(bona fide < t), FAR = P(spoof >= t), at the
    threshold where they are closest (the first), their mean (as the ASVspoof code)."""
    best = None
    for threshold in np.sort(np.concatenate([bonafide, spoof, [np.inf]])):
        frr = np.mean(bonafide < threshold)
        far = np.mean(spoof >= threshold)
        if best is None or abs(frr - far) < best[0]:
            best = (abs(frr - far), (frr + far) / 2)
    return 100 * best[1]


@pytest.fixture(scope="module")
def labelled_set(tmp_path_factory) -> Path:
    protocol = DEMO / "ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.dev.trl.txt"
    rows = [line.split() for line in protocol.read_text().splitlines()[:6]]
    folder = tmp_path_factory.mktemp("set")
    lines = ["path,label"] + [
        f"{DEMO / 'ASVspoof2019_LA_dev/flac' / row[1]}.flac,{row[4]}" for row in rows
    ]
    (folder / "set.csv").write_text("\n".join(lines) + "\n")
    return folder / "set.csv"


def run(tmp_path, labelled_set, out_dir) -> dict:
    from tiny_detector import model_folder

    model = model_folder(tmp_path / "model")
    argv = ["--model", str(model), "--trust-remote-code", "--set", str(labelled_set),
            "--conditions", "gsm,mp3:8", "--resamples", "50", str(out_dir)]
    assert main(argv) == 0
    return json.loads((out_dir / "robustness.json").read_text())


def read_scores(path: Path) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in path.read_text().splitlines()}


@pytest.mark.slow
def test_table_plot_and_scores_per_condition(tmp_path, labelled_set):
    out = tmp_path / "out"
    table = run(tmp_path, labelled_set, out)
    assert list(table) == ["clean", "gsm", "mp3:8"]
    assert (out / "robustness.png").stat().st_size > 1000
    markdown = (out / "robustness.md").read_text()
    assert markdown.count("\n") == 5 and "| mp3:8 |" in markdown
    labels = {line.split(",")[0]: line.split(",")[1]
              for line in labelled_set.read_text().splitlines()[1:]}
    is_bonafide = {Path(path).stem: label == "bonafide" for path, label in labels.items()}
    scores = {name: read_scores(out / "scores" / f"{name.replace(':', '_')}.txt")
              for name in table}
    for name, metrics in table.items():
        values = scores[name]
        bonafide = np.array([v for k, v in values.items() if is_bonafide[k]])
        spoof = np.array([v for k, v in values.items() if not is_bonafide[k]])
        assert metrics["eer"]["estimate"] == pytest.approx(official_eer(bonafide, spoof))
        assert metrics["eer"]["low"] <= metrics["eer"]["estimate"] <= metrics["eer"]["high"]
    for name in ("gsm", "mp3:8"):  # degraded: other scores for the same utterances
        assert scores[name].keys() == scores["clean"].keys()
        assert all(scores[name][k] != scores["clean"][k] for k in scores["clean"])

    # deterministic per utterance, and complete conditions are not rescored
    gsm_file = out / "scores" / "gsm.txt"
    stamp = gsm_file.stat().st_mtime_ns
    (out / "scores" / "mp3_8.txt").unlink()
    assert run(tmp_path, labelled_set, out) == table
    assert gsm_file.stat().st_mtime_ns == stamp
    assert read_scores(out / "scores" / "mp3_8.txt") == scores["mp3:8"]


def test_bad_condition_is_one_line(tmp_path, labelled_set, capsys):
    argv = ["--model", "x", "--set", str(labelled_set), "--conditions", "flac", str(tmp_path)]
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == (
        "ssdctx-robustness: error: codec 'flac' is unknown; the codecs are mp3, vorbis, opus, "
        "gsm, g721, ima_adpcm, ms_adpcm, mulaw, alaw, telephone"
    )


@pytest.mark.slow
def test_a_bundled_corpus_as_the_set(tmp_path):
    """``--set demo``: the set ssdctx-bench reads (the demo eval protocol's keys); scores of
    the tiny detector's closed form on the first second, EER of a loop over thresholds."""
    from tiny_detector import model_folder, reference_logits

    model = model_folder(tmp_path / "model", policy="first", samples=16000)
    out = tmp_path / "out"
    argv = ["--model", str(model), "--trust-remote-code", "--set", "demo", "--conditions",
            "clean", "--resamples", "20", str(out)]
    assert main(argv) == 0
    protocol = DEMO / "ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt"
    keys = {row[1]: row[4] == "bonafide" for row in map(str.split, protocol.open())}
    scores = read_scores(out / "scores" / "clean.txt")
    assert scores.keys() == keys.keys() and len(keys) == 43
    for utt in list(keys)[:5]:
        wav, _ = soundfile.read(DEMO / "ASVspoof2019_LA_eval/flac" / f"{utt}.flac",
                                dtype="float32")
        logits = reference_logits(torch.from_numpy(wav[:16000]))
        assert scores[utt] == pytest.approx(float(logits[1] - logits[0]), abs=1e-4)
    bonafide = np.array([score for utt, score in scores.items() if keys[utt]])
    spoof = np.array([score for utt, score in scores.items() if not keys[utt]])
    table = json.loads((out / "robustness.json").read_text())
    assert table["clean"]["eer"]["estimate"] == pytest.approx(official_eer(bonafide, spoof))
    assert (out / "manifests").is_dir()


def test_a_set_that_is_nothing_is_one_line(tmp_path, capsys):
    argv = ["--model", "x", "--set", str(tmp_path / "none.csv"), str(tmp_path / "out")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a registered corpus" in err
