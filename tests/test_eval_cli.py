"""ssdctx-eval on the official reference score files, 2021 keys and bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from speechbrain_ssdctx.cli.evaluate import main
from speechbrain_ssdctx.evaluation.dcf import act_dcf, cllr
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import write_score_file

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "metrics_reference"
LA2019 = FIXTURES / "asvspoof2019_la" / "LA"
OFFICIAL = json.loads((REFERENCE / "official_values.json").read_text())
DEV_PROTOCOL = LA2019 / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
DEV_ASV = LA2019 / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_2019_json_matches_official_values(capsys):
    name = "synthetic_cm_scores_2019LA_dev_ties_1decimal.txt"
    code, out, _ = _run(
        capsys, REFERENCE / name, "--protocol", DEV_PROTOCOL, "--asv-scores", DEV_ASV, "--json"
    )
    assert code == 0
    report, expected = json.loads(out), OFFICIAL[name]
    for key, official in (
        ("eer", "eer_percent"),
        ("eer_threshold", "eer_threshold"),
        ("min_tdcf_legacy", "min_tdcf_legacy"),
        ("min_tdcf_revised", "min_tdcf_revised"),
        ("asv_eer", "asv_eer_percent"),
        ("asv_threshold", "asv_threshold"),
    ):
        assert abs(report[key] - expected[official]) < 1e-6, key
    for attack, value in expected["per_attack_eer_percent"].items():
        assert abs(report["per_attack"][attack]["eer"] - value) < 1e-6


@pytest.mark.slow
def test_2019_table(capsys):
    name = "synthetic_cm_scores_2019LA_dev_continuous.txt"
    code, out, _ = _run(
        capsys, REFERENCE / name, "--protocol", DEV_PROTOCOL, "--asv-scores", DEV_ASV
    )
    assert code == 0
    summary = out.splitlines()[2].split("|")
    assert summary[3].strip() == f"{OFFICIAL[name]['eer_percent']:.3f}"
    assert summary[4:6] == [f" {OFFICIAL[name]['min_tdcf_legacy']:.4f} ", " legacy "]
    assert "| A06 |" in out and "ASVspoof 5 Track 1 definitions" in out


def test_missing_ids_are_a_clear_error(tmp_path, capsys):
    lines = (REFERENCE / "synthetic_cm_scores_2019LA_dev_continuous.txt").read_text().splitlines()
    partial = tmp_path / "partial.txt"
    partial.write_text("\n".join(lines[:-10] + ["LA_X_0000001 0.5"]) + "\n")
    code, _, err = _run(capsys, partial, "--protocol", DEV_PROTOCOL)
    assert code == 1
    assert "10 of 24844 trials" in err and lines[-10].split()[0] in err
    assert "1 of 24835 ids" in err and "LA_X_0000001" in err


def test_half_written_score_file_names_the_line(tmp_path, capsys):
    lines = (REFERENCE / "synthetic_cm_scores_2019LA_dev_continuous.txt").read_text().splitlines()
    cut = tmp_path / "cut.txt"
    cut.write_text("\n".join(lines[:100]) + "\n" + lines[100].split()[0])
    code, _, err = _run(capsys, cut, "--protocol", DEV_PROTOCOL)
    assert code == 1 and f"{cut}, line 101" in err


def _synthetic_2021_la(tmp_path):
    """A 2021 LA key over the official synthetic 2021 scores, plus ignored progress rows."""
    bonafide = np.loadtxt(REFERENCE / "synthetic_2021LA_bonafide_scores.txt")
    spoof = np.loadtxt(REFERENCE / "synthetic_2021LA_spoof_scores.txt")
    codecs = ["none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus"]
    attacks = [f"A{i:02d}" for i in range(7, 20)]
    key, scores = [], []
    for i, score in enumerate(bonafide):
        key.append(f"LA_0001 LA_E_B{i} {codecs[i % 7]} tx bonafide bonafide notrim eval")
        scores.append((f"LA_E_B{i}", score))
    for i, score in enumerate(spoof):
        key.append(f"LA_0001 LA_E_S{i} {codecs[i % 7]} tx {attacks[i % 13]} spoof notrim eval")
        scores.append((f"LA_E_S{i}", score))
    for i in range(5):
        key.append(f"LA_0001 LA_E_P{i} alaw tx A07 spoof notrim progress")
        scores.append((f"LA_E_P{i}", 100.0))
    (tmp_path / "trial_metadata.txt").write_text("\n".join(key) + "\n")
    ids, values = zip(*scores, strict=True)
    write_score_file(tmp_path / "scores.txt", ids, values)
    return bonafide, spoof, np.array(codecs * (len(spoof) // 7 + 1))[: len(spoof)]


@pytest.mark.slow
def test_2021_la_with_bundled_c012(tmp_path, capsys):
    bonafide, spoof, spoof_codecs = _synthetic_2021_la(tmp_path)
    code, out, _ = _run(
        capsys, tmp_path / "scores.txt", "--key", tmp_path / "trial_metadata.txt", "--json"
    )
    assert code == 0
    report, expected = json.loads(out), OFFICIAL["synthetic_2021LA_pooled_C012_eval"]
    assert report["trials"] == bonafide.size + spoof.size  # progress rows left out
    assert abs(report["eer"] - expected["eer_percent"]) < 1e-6
    assert abs(report["min_tdcf_revised"] - expected["min_tdcf_revised"]) < 1e-6
    bonafide_codecs = np.array(["none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus"] * 3000)
    gsm = compute_eer(
        bonafide[bonafide_codecs[: bonafide.size] == "gsm"], spoof[spoof_codecs == "gsm"]
    )[0]
    assert report["per_codec"]["gsm"]["eer"] == pytest.approx(100 * gsm, abs=1e-9)
    assert set(report["per_codec"]) == {"none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus"}
    assert all("min_tdcf_revised" in row for row in report["per_codec"].values())
    assert len(report["per_attack"]) == 13
    assert all("min_tdcf_revised" in row for row in report["per_attack"].values())


def test_2021_df_breakdowns(tmp_path, capsys):
    key = [
        "LA_1 DF_E_1 nocodec asvspoof - bonafide notrim eval bonafide - - - -",
        "LA_1 DF_E_2 nocodec asvspoof A14 spoof notrim eval traditional_vocoder - - - -",
        "LA_1 DF_E_3 low_mp3 vcc2018 - bonafide notrim eval bonafide - - - -",
        "LA_1 DF_E_4 low_mp3 vcc2018 T1 spoof notrim eval neural_vocoder_autoregressive - - - -",
        "LA_1 DF_E_5 low_mp3 vcc2018 T2 spoof notrim eval traditional_vocoder - - - -",
    ]
    (tmp_path / "key.txt").write_text("\n".join(key) + "\n")
    scores = {"DF_E_1": 2.0, "DF_E_2": -1.0, "DF_E_3": 0.0, "DF_E_4": 1.0, "DF_E_5": -2.0}
    write_score_file(tmp_path / "s.txt", list(scores), list(scores.values()))
    code, out, _ = _run(capsys, tmp_path / "s.txt", "--key", tmp_path / "key.txt", "--json")
    assert code == 0
    report = json.loads(out)
    assert "min_tdcf_revised" not in report  # no t-DCF for DF
    assert {k: v["eer"] for k, v in report["per_compression"].items()} == {
        "low_mp3": 100 * compute_eer([0.0], [1.0, -2.0])[0],
        "nocodec": 0.0,
    }
    assert report["per_vocoder"]["traditional_vocoder"]["eer"] == 0.0
    assert (
        report["per_vocoder"]["neural_vocoder_autoregressive"]["eer"]
        == 100 * (compute_eer([2.0, 0.0], [1.0])[0])
    )


def test_keyless_manifest_says_metrics_need_keys(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("ID,wav,label\nLA_E_1,x.flac,unknown\n")
    (tmp_path / "s.txt").write_text("LA_E_1 0.5\n")
    code, _, err = _run(capsys, tmp_path / "s.txt", "--manifest", tmp_path / "m.csv")
    assert code == 1 and "keys package" in err


ASV5 = FIXTURES / "asvspoof5_reference"
ASV5_OFFICIAL = json.loads((ASV5 / "official_values.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("key", ["t1_protocol.tsv", "t1_key.tsv"])
def test_asvspoof5_track1_json_keys_and_values(capsys, key):
    code, out, _ = _run(capsys, ASV5 / "t1_scores_ties.tsv", "--key", ASV5 / key, "--json")
    assert code == 0
    report, expected = json.loads(out), ASV5_OFFICIAL["track1"]["t1_scores_ties.tsv"]
    for metric in ("eer", "min_dcf", "act_dcf", "cllr"):  # the keys the issue names
        assert abs(report[metric] - expected[metric]) < 1e-6, metric
    if key == "t1_protocol.tsv":  # the protocol has attacks and codecs: breakdowns
        for group, row in expected["per_codec"].items():
            assert abs(report["per_codec"][group]["min_dcf"] - row["min_dcf"]) < 1e-6


def test_asvspoof5_track2_from_the_header(capsys):
    code, out, _ = _run(
        capsys, ASV5 / "t2_small_scores.tsv", "--key", ASV5 / "t2_small_key.tsv", "--json"
    )
    assert code == 0
    report, expected = json.loads(out), ASV5_OFFICIAL["track2"]["t2_small"]
    for metric in ("a_dcf", "min_tdcf", "t_eer"):
        assert abs(report[metric] - expected[metric]) < 1e-6, metric
    code, out, _ = _run(capsys, ASV5 / "t2_small_scores.tsv", "--key", ASV5 / "t2_small_key.tsv")
    assert "| trials (target / nontarget / spoof) |" in out and "per attack" in out
    code, _, err = _run(capsys, ASV5 / "t2_small_scores.tsv", "--key", ASV5 / "t1_key.tsv")
    assert code == 1 and "Track 2 key" in err


def test_duplicate_key_id_is_refused(tmp_path, capsys):
    # Reproduces issue 12: a trial listed as bona fide and as spoof was counted twice.
    (tmp_path / "key.tsv").write_text("filename\tcm-label\nE_1\tbonafide\nE_2\tspoof\n"
                                      "E_1\tspoof\n")
    (tmp_path / "s.tsv").write_text("filename\tcm-score\nE_1\t1.0\nE_2\t-1.0\n")
    code, _, err = _run(capsys, tmp_path / "s.tsv", "--key", tmp_path / "key.tsv")
    assert code == 1 and "line 4: E_1 is listed again (first on line 2" in err


def _labelled_set(tmp_path, seed=0, shift=2.0):
    rng = np.random.default_rng(seed)
    labels = np.arange(200) < 100
    speakers = np.repeat(np.arange(20), 10)
    scores = np.where(labels, shift, 0.0) + rng.normal(0, 1, 200)
    ids = [f"u{i}" for i in range(200)]
    write_score_file(tmp_path / f"s{seed}.txt", ids, scores)
    lines = ["path,label,speaker"] + [f"{u}.wav,{'bonafide' if b else 'spoof'},S{s}"
                                      for u, b, s in zip(ids, labels, speakers, strict=True)]
    (tmp_path / "key.csv").write_text("\n".join(lines) + "\n")
    return scores, labels


def test_bootstrap_calibration_and_comparison(tmp_path, capsys):
    scores, labels = _labelled_set(tmp_path, 0)
    _labelled_set(tmp_path, 1, shift=1.0)
    (tmp_path / "cal.json").write_text('{"slope": 2.0, "offset": -2.0, "prior": 0.5}')
    code, out, _ = _run(
        capsys, tmp_path / "s0.txt", "--key", tmp_path / "key.csv", "--bootstrap", "200",
        "--group-by", "speaker", "--calibration", tmp_path / "cal.json",
        "--compare", tmp_path / "s1.txt", "--json",
    )
    assert code == 0
    report = json.loads(out)
    ci = report["bootstrap"]
    assert ci["resamples"] == 200 and ci["group_by"] == "speaker"
    assert ci["eer"]["low"] <= report["eer"] <= ci["eer"]["high"]
    llrs = 2.0 * scores - 2.0
    assert report["cllr_calibrated"] == pytest.approx(cllr(llrs[labels], llrs[~labels]))
    assert report["act_dcf_calibrated"] == pytest.approx(
        act_dcf(llrs[labels], llrs[~labels])[0])
    comparison = report["comparison"]
    assert comparison["eer_a"] == report["eer"] and comparison["a_better"] > 0.9
    code, out, _ = _run(capsys, tmp_path / "s0.txt", "--key", tmp_path / "key.csv",
                        "--bootstrap", "100", "--compare", tmp_path / "s1.txt")
    assert "EER 95% CI" in out and "paired comparison with" in out
    code, _, err = _run(capsys, tmp_path / "s0.txt", "--key", tmp_path / "key.csv",
                        "--bootstrap", "10", "--group-by", "codec")
    assert code == 1 and "no 'codec' column" in err
