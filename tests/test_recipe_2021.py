"""The recipe's 2021 LA / DF evaluation, on small corpora laid out as the official ones.

The 2021 audio is not available here, so the demo corpus's eval utterances play the
2021 trials: copied under 2021 ids into ``ASVspoof2021_{LA,DF}_eval/flac/``, with keys
in the official ``keys/{LA,DF}/CM/trial_metadata.txt`` format.
"""

import json
import shutil

import pytest
from recipe_utils import run_train

from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.data.asvspoof import read_protocol_2019
from speechbrain_ssdctx.evaluation.scores import read_score_file

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs

CODECS = ("none", "alaw", "gsm")
COMPRESSIONS = ("nocodec", "mp3m4a")


def make_2021_corpora(root):
    """Both 2021 tracks from the demo eval set; returns the trials per track."""
    demo = demo_corpus_folder()
    rows = read_protocol_2019(
        demo / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    )
    trials = {"LA": [], "DF": []}
    for track in trials:
        flac = root / f"ASVspoof2021_{track}_eval" / "flac"
        flac.mkdir(parents=True)
        lines = []
        for i, row in enumerate(rows):
            utt = f"{track}_E_{1000000 + i}"
            shutil.copy(demo / "ASVspoof2019_LA_eval" / "flac" / f"{row['ID']}.flac",
                        flac / f"{utt}.flac")
            attack = f"A{7 + i % 13:02d}" if row["label"] == "spoof" else "bonafide"
            subset = "progress" if i % 4 == 3 else "eval"
            if track == "LA":
                lines.append(f"{row['speaker']} {utt} {CODECS[i % 3]} ita_tx {attack} "
                             f"{row['label']} notrim {subset}")
            else:
                vocoder = "neural_vocoder_autoregressive" if i % 2 else "traditional_vocoder"
                lines.append(f"{row['speaker']} {utt} {COMPRESSIONS[i % 2]} vcc2018 {attack} "
                             f"{row['label']} notrim {subset} {vocoder} - - - -")
            trials[track].append((utt, row["label"], subset))
        key = root / "keys" / track / "CM" / "trial_metadata.txt"
        key.parent.mkdir(parents=True)
        key.write_text("\n".join(lines) + "\n")
    return trials


def test_2021_la_and_df_are_scored_and_evaluated_on_the_eval_subset(tmp_path):
    corpora = tmp_path / "2021"
    trials = make_2021_corpora(corpora)
    output = tmp_path / "run"
    run_train("lcnn_inf_ini.yaml", output, "--max_utterances_per_class=100",
              f"--la2021_folder={corpora}", f"--la2021_keys={corpora / 'keys'}",
              f"--df2021_folder={corpora}", f"--df2021_keys={corpora / 'keys'}")
    results = json.loads((output / "results.json").read_text())
    for track in ("LA", "DF"):
        name = f"2021{track}_eval"
        # Every trial is scored (all subsets), the metrics use the eval subset only.
        scores = read_score_file(output / "scores" / f"{name}.txt")
        assert set(scores) == {utt for utt, _, _ in trials[track]}
        in_eval = [label for _, label, subset in trials[track] if subset == "eval"]
        assert results[name]["bonafide"] == in_eval.count("bonafide")
        assert results[name]["spoof"] == in_eval.count("spoof")
    la, df = results["2021LA_eval"], results["2021DF_eval"]
    assert 0 <= la["min_tdcf_revised"] <= 1.0 + 1e-9  # from the official 2021 C012
    assert set(la["per_codec"]) == set(CODECS)
    assert set(df["per_compression"]) == set(COMPRESSIONS)
    assert set(df["per_vocoder"]) == {
        "neural_vocoder_autoregressive", "traditional_vocoder"}
    assert "min_tdcf_revised" not in df and "min_tdcf_legacy" not in df
    table = (output / "results.md").read_text()
    assert "| 2021 LA eval |" in table and "| 2021 DF eval |" in table


def test_2021_without_keys_is_scored_not_evaluated(tmp_path):
    corpora = tmp_path / "2021"
    trials = make_2021_corpora(corpora)
    trial_list = corpora / "ASVspoof2021_LA_eval" / "ASVspoof2021.LA.cm.eval.trl.txt"
    trial_list.write_text("".join(f"{utt}\n" for utt, _, _ in trials["LA"]))
    output = tmp_path / "run"
    process = run_train("lcnn.yaml", output, "--max_utterances_per_class=100",
                        f"--la2021_folder={corpora}")
    assert len(read_score_file(output / "scores" / "2021LA_eval.txt")) == len(trials["LA"])
    assert "2021LA_eval" not in json.loads((output / "results.json").read_text())
    assert "2021LA_eval has no keys" in process.stdout + process.stderr


