"""Atomic writes: permissions as a plain open() gives them, orphans of killed writers removed."""

import os
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la
from speechbrain_ssdctx.data.asvspoof import read_manifest
from speechbrain_ssdctx.evaluation.scores import write_score_file
from speechbrain_ssdctx.utils.atomic import atomic_open

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_get_the_mode_of_a_plain_open(tmp_path, mask):
    with umask(mask):
        with open(tmp_path / "plain.txt", "w") as stream:  # the reference: what open() does
            stream.write("x")
        with atomic_open(tmp_path / "atomic.txt") as stream:
            stream.write("x")
        write_score_file(tmp_path / "scores.txt", ["LA_E_1"], [0.5])
    assert mode(tmp_path / "atomic.txt") == mode(tmp_path / "plain.txt")
    assert mode(tmp_path / "scores.txt") == mode(tmp_path / "plain.txt")


@pytest.mark.parametrize("existing", [0o644, 0o640, 0o600])
def test_existing_file_keeps_its_mode(tmp_path, existing):
    path = tmp_path / "scores.txt"
    path.write_text("old\n")
    path.chmod(existing)
    with umask(0o077):
        with atomic_open(path) as stream:
            stream.write("new\n")
    assert path.read_text() == "new\n" and mode(path) == existing


WRITER = """
import sys, time
from speechbrain_ssdctx.utils.atomic import atomic_open
with atomic_open(sys.argv[1]) as stream:
    stream.write("ID,wav,half a manifest")
    stream.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def start_writer(path: Path) -> subprocess.Popen:
    """A process that stays inside atomic_open(path) until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.readline().strip() == "writing"
    return process


def temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def test_rerun_of_killed_preparation_removes_its_temporaries(tmp_path):
    save = tmp_path / "manifests"
    killed = start_writer(save / "asvspoof2019_la_train.csv")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    (orphan,) = temporaries(save, "asvspoof2019_la_train.csv")
    live = start_writer(save / "asvspoof2019_la_dev.csv")  # a concurrent writer, alive
    try:
        (live_temporary,) = temporaries(save, "asvspoof2019_la_dev.csv")
        paths = prepare_asvspoof2019_la(demo_corpus_folder(), save)
        assert not orphan.exists()
        assert live_temporary.exists()  # never pulled from under a live writer
    finally:
        live.kill()
        live.wait()
    expected = (demo_corpus_folder() / "ASVspoof2019_LA_cm_protocols" /
                 "ASVspoof2019.LA.cm.train.trn.txt").read_text().splitlines()
    assert len(read_manifest(paths["train"])) == len(expected)

    # The dead writer's temporary is now an orphan too: the next (up-to-date) run removes it.
    prepare_asvspoof2019_la(demo_corpus_folder(), save)
    assert not live_temporary.exists()
    assert sorted(p.name for p in save.iterdir() if p.name.endswith(".tmp")) == []
