"""The command-line tools never write over an input, end quietly when their reader goes
away, and do not print SpeechBrain's torchvision notice."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speechbrain_ssdctx.cli.broken_pipe import CLOSED_READER_STATUS, quiet_on_closed_reader
from speechbrain_ssdctx.cli.calibrate import main as calibrate_main
from speechbrain_ssdctx.cli.plot import main as plot_main
from speechbrain_ssdctx.evaluation.scores import write_score_file

ROOT = Path(__file__).resolve().parents[1]
LA2019 = ROOT / "tests" / "fixtures" / "asvspoof2019_la" / "LA"
DEV_PROTOCOL = LA2019 / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
REFERENCE = ROOT / "tests" / "fixtures" / "metrics_reference"
DEV_SCORES = REFERENCE / "synthetic_cm_scores_2019LA_dev_ties_1decimal.txt"


@pytest.fixture()
def labelled_scores(tmp_path):
    ids = [f"u{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    scores = write_score_file(tmp_path / "dev.txt", ids,
                              np.concatenate([rng.normal(2, 1, 20), rng.normal(-2, 1, 20)]))
    key = tmp_path / "key.csv"
    key.write_text("path,label\n" + "".join(
        f"{u}.wav,{'bonafide' if i < 20 else 'spoof'}\n" for i, u in enumerate(ids)))
    return scores, key


def test_calibrate_never_writes_over_its_inputs(tmp_path, labelled_scores, capsys):
    scores, key = labelled_scores
    before = scores.read_bytes(), key.read_bytes()
    for out in (scores, key, tmp_path / "." / "dev.txt"):
        assert calibrate_main(["fit", str(scores), "--key", str(key), "--out", str(out)]) == 1
        assert "is one of the input files" in capsys.readouterr().err
    cal = tmp_path / "cal.json"
    assert calibrate_main(["fit", str(scores), "--key", str(key), "--out", str(cal)]) == 0
    saved = cal.read_bytes()
    for out in (cal, scores):
        assert calibrate_main(["apply", str(cal), str(scores), "--out", str(out)]) == 1
    assert (scores.read_bytes(), key.read_bytes()) == before and cal.read_bytes() == saved


def test_plot_never_writes_over_its_inputs(tmp_path, capsys):
    scores = tmp_path / "s.txt"
    scores.write_bytes(DEV_SCORES.read_bytes())
    link = tmp_path / "link.txt"
    link.symlink_to(scores)
    before = scores.read_bytes()
    for argv in (["det", str(scores), "--out", str(scores)],
                 ["det", str(DEV_SCORES), str(scores), "--out", str(link)],
                 ["hist", str(scores), "--out", str(tmp_path / "p.txt")]):
        protocol = tmp_path / "p.txt"
        protocol.write_bytes(DEV_PROTOCOL.read_bytes())
        assert plot_main([*argv, "--protocol", str(protocol)]) == 1
        assert "is one of the input files" in capsys.readouterr().err
        assert protocol.read_bytes() == DEV_PROTOCOL.read_bytes()
    assert scores.read_bytes() == before


def test_the_wrapper_passes_the_status_and_catches_only_broken_pipes():
    assert quiet_on_closed_reader(lambda argv=None: 3)([]) == 3

    def other(argv=None):
        raise ConnectionResetError("not a closed reader")

    with pytest.raises(ConnectionResetError):
        quiet_on_closed_reader(other)([])


def closed_reader_run(*argv: str) -> subprocess.CompletedProcess:
    """Runs a tool whose stdout is a pipe that nobody reads (closed before it writes)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, *argv], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write)


@pytest.mark.parametrize("argv", [
    ["-m", "speechbrain_ssdctx.cli.evaluate", str(DEV_SCORES), "--protocol", str(DEV_PROTOCOL)],
    ["-m", "speechbrain_ssdctx.cli.score", "--model", "aasist-l", "--no-progress",
     str(LA2019 / "ASVspoof2019_LA_dev" / "flac")],
], ids=["ssdctx-eval", "ssdctx-score"])
def test_a_closed_reader_ends_the_tool_quietly(argv):
    done = closed_reader_run(*argv)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert "error" not in done.stderr.lower()
    assert done.returncode == CLOSED_READER_STATUS


NOTICE = "torchvision is not available - cannot save figures"
IMPORT_TRAIN_LOGGER = (
    "{first}import speechbrain.utils.train_logger, logging; "
    "logging.getLogger('speechbrain.utils.train_logger').warning('another warning')"
)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="SpeechBrain prints the notice only without torchvision")
def test_the_torchvision_notice_is_dropped_and_nothing_else():
    def stderr_of(first: str) -> str:
        code = IMPORT_TRAIN_LOGGER.format(first=first)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=ROOT, timeout=300).stderr

    assert NOTICE in stderr_of("")  # what SpeechBrain alone prints (the recipe YAMLs import it)
    quiet = stderr_of("import speechbrain_ssdctx; ")
    assert NOTICE not in quiet and "another warning" in quiet
