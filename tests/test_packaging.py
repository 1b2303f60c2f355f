"""The package's own configuration: a safe torch, a wheel built without warnings and whole."""

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def install_requires() -> dict[str, Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].split("\n")
    return {req.name: req for req in map(Requirement, filter(None, map(str.strip, lines)))}


def test_torch_pin_excludes_unsafe_torch_load_default():
    # torch.load defaults to weights_only=True from 2.6 on; older versions unpickle code.
    torch = install_requires()["torch"]
    assert not torch.specifier.contains("2.5.1")
    assert torch.specifier.contains("2.6.0") and torch.specifier.contains("2.14.1")


@pytest.mark.slow
def test_wheel_builds_without_warnings_and_holds_the_data(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "speechbrain_ssdctx", source / "speechbrain_ssdctx",
                    ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    log = build.stdout + build.stderr
    assert "absent from the `packages` configuration" not in log
    assert "_Warning" not in log and "SetuptoolsDeprecationWarning" not in log

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    package = ROOT / "speechbrain_ssdctx"
    data = [p for folder in ("data/demo", "data/asvspoof2021", "pretrained")
            for p in (package / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
    assert len(data) > 100
    missing = [p for p in data if f"speechbrain_ssdctx/{p.relative_to(package)}" not in packed]
    assert missing == []
