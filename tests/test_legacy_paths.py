"""What users wrote against 0.1.0 keeps working: model folders exported by 0.1.0 load and
score as they did, and every public name of 0.1.0's top-level modules imports from its old
path (with a FutureWarning naming the new one) as the same object as from the new path."""

import importlib
import json
import pathlib
import shutil
import sys
import warnings

import pytest
from speechbrain.inference.interfaces import foreign_class

from speechbrain_ssdctx.cli.score import main as score_main
from speechbrain_ssdctx.inference import SpoofDetector
from speechbrain_ssdctx.utils.legacy_paths import MOVED_MODULES, REMOVED_NAMES, new_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "fixtures" / "exports_0.1.0"
AUDIO = sorted((ROOT / "tests" / "fixtures" / "asvspoof2019_la" / "LA").glob("*/flac/*.flac"))
SCORES = json.loads((LEGACY / "scores-0.1.0.json").read_text())
PUBLIC_NAMES = json.loads((LEGACY / "public_names-0.1.0.json").read_text())


@pytest.fixture
def fresh_old_modules(monkeypatch):
    """Old module paths not imported yet in this test (their import warns once)."""
    for module in MOVED_MODULES:
        monkeypatch.delitem(sys.modules, module, raising=False)


@pytest.fixture
def legacy_folder(tmp_path, request) -> pathlib.Path:
    """A copy of one 0.1.0 export (loading must not need to write next to it)."""
    folder = tmp_path / request.param
    shutil.copytree(LEGACY / request.param, folder)
    return folder


def test_the_fixture_names_the_old_paths():
    text = (LEGACY / "lcnn-0.1.0" / "hyperparams.yaml").read_text()
    assert "!new:speechbrain_ssdctx.contract.ContractAdapter" in text
    assert len(AUDIO) == 3 and set(SCORES["lcnn-0.1.0"]) == {path.name for path in AUDIO}


@pytest.mark.slow
@pytest.mark.parametrize("legacy_folder", ["lcnn-0.1.0", "xvector-0.1.0"], indirect=True)
def test_a_0_1_0_export_scores_as_it_did(legacy_folder, tmp_path, fresh_old_modules):
    # an export that ships its own code (custom_interface.py) needs the opt-in since 0.2.0
    trust = (legacy_folder / "custom_interface.py").is_file() and "custom_interface." in (
        legacy_folder / "hyperparams.yaml").read_text()
    with pytest.warns(FutureWarning, match="speechbrain_ssdctx.method.contract"):
        detector = SpoofDetector.from_hparams(legacy_folder, savedir=tmp_path / "savedir",
                                              trust_remote_code=trust)
    expected = SCORES[legacy_folder.name]
    for path in AUDIO:
        assert detector.score_file(str(path)) == pytest.approx(expected[path.name], abs=1e-5)
    assert max(expected.values()) - min(expected.values()) > 1e-3  # not a constant


@pytest.mark.slow
@pytest.mark.parametrize("legacy_folder", ["xvector-0.1.0"], indirect=True)
def test_a_0_1_0_export_loads_with_speechbrains_foreign_class(legacy_folder, tmp_path):
    interface = foreign_class(source=str(legacy_folder), pymodule_file="custom_interface.py",
                              classname="SpoofDetector", savedir=tmp_path / "foreign")
    for path in AUDIO:
        assert interface.score_file(str(path)) == pytest.approx(
            SCORES["xvector-0.1.0"][path.name], abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("legacy_folder", ["lcnn-0.1.0"], indirect=True)
def test_a_0_1_0_export_scores_through_the_cli(legacy_folder, tmp_path):
    out = tmp_path / "scores.txt"
    assert score_main(["--model", str(legacy_folder), *map(str, AUDIO), "--out", str(out),
                       "--no-progress"]) == 0
    scores = dict(line.split()[:2] for line in out.read_text().splitlines())
    for path in AUDIO:
        assert float(scores[path.stem]) == pytest.approx(
            SCORES["lcnn-0.1.0"][path.name], abs=1e-5)


@pytest.mark.parametrize("module", sorted(PUBLIC_NAMES))
def test_every_0_1_0_name_imports_from_its_old_path(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = importlib.import_module(module)
        for name in PUBLIC_NAMES[module]:
            if f"{module}.{name}" in REMOVED_NAMES:  # replaced, and the error says by what
                with pytest.raises(AttributeError, match="removed in 0.2.0: use "):
                    getattr(old, name)
                continue
            target = new_path(f"{module}.{name}")
            if target is None:  # the module kept its path (data/, models/, cli/)
                continue
            home, _, attribute = target.rpartition(".")
            assert getattr(old, name) is getattr(importlib.import_module(home), attribute), \
                f"{module}.{name}"


def test_old_paths_warn_with_the_new_one(fresh_old_modules):
    with pytest.warns(FutureWarning, match=r"'speechbrain_ssdctx\.method\.losses'"):
        importlib.import_module("speechbrain_ssdctx.losses")
    with pytest.warns(FutureWarning, match=r"speechbrain_ssdctx\.method\.masking\.BandPassMasking"):
        from speechbrain_ssdctx.augment import BandPassMasking  # noqa: F401


def test_no_module_is_left_at_the_old_places():
    package = ROOT / "speechbrain_ssdctx"
    assert [p.name for p in package.glob("*.py")] == ["__init__.py"]
    for module in MOVED_MODULES:
        assert not (ROOT / (module.replace(".", "/") + ".py")).exists()


def test_unknown_old_names_still_fail():
    with pytest.raises(ImportError):
        from speechbrain_ssdctx.augment import NoSuchThing  # noqa: F401
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("speechbrain_ssdctx.no_such_module")


def test_every_removed_name_is_in_the_changelog():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for old in REMOVED_NAMES:
        assert old.replace("speechbrain_ssdctx.", "", 1).rpartition(".")[2] in changelog, old
