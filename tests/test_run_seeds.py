"""Multi-seed runs: each seed trains once, then a Table-1 style summary with a pooled CI."""

import json
import subprocess
import sys
from statistics import mean, stdev

import pytest
from recipe_utils import HPARAMS, QUICK, ROOT, recipe_env


@pytest.mark.slow
def test_two_seeds_give_the_summary_table(tmp_path):
    command = [sys.executable, str(ROOT / "recipes" / "run_seeds.py"),
               str(HPARAMS / "lcnn.yaml"), "--seeds", "1", "100", "--bootstrap", "200", *QUICK]
    first = subprocess.run(command, cwd=tmp_path, env=recipe_env(), capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    per_seed = {s: json.loads((tmp_path / "results" / "lcnn" / s / "results.json").read_text())
                for s in ("1", "100")}
    eers = [per_seed[s]["2019LA_eval"]["eer"] for s in ("1", "100")]

    table = (tmp_path / "results" / "lcnn" / "seeds.md").read_text().splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    rows = {r.strip("|").split("|")[0].strip(): [c.strip() for c in r.strip("|").split("|")]
            for r in table[2:]}
    assert list(rows) == ["1", "100", "mean ± std", "pooled 95% CI", "best"]
    column = header.index("demo eval EER (%)")  # the demo corpus's sets are called so
    assert rows["mean ± std"][column] == f"{mean(eers):.3f} ± {stdev(eers):.3f}"
    assert float(rows["best"][column]) == round(min(eers), 3)
    summary = json.loads((tmp_path / "results" / "lcnn" / "seeds.json").read_text())
    assert summary["runs"].keys() == {"1", "100"}
    pooled = summary["pooled"]["2019LA_eval"]["eer"]
    assert pooled["estimate"] == pytest.approx(mean(eers))
    assert pooled["low"] <= mean(eers) <= pooled["high"]
    assert rows["pooled 95% CI"][column] == f"[{pooled['low']:.3f}, {pooled['high']:.3f}]"

    # Finished seeds are not trained again.
    again = subprocess.run(command, cwd=tmp_path, env=recipe_env(), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0
    assert again.stdout.count("finished earlier") == 2
