"""Safe loading of shared models (issue 23 item 1): a model or run folder's YAML builds only
what the allow-list permits unless the user opts in (trust_remote_code)."""

import pathlib
import re
import shutil
import sys
import time
import warnings

import pytest
import torch
from tiny_detector import model_folder

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.cli.score import main as score_main
from speechbrain_ssdctx.inference import (
    MODEL_POLICY,
    SpoofDetector,
    UntrustedCodeError,
    check_hparams,
)
from speechbrain_ssdctx.inference.export import DetectorDefinition, ExportError, export_detector

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPORTS_010 = ROOT / "tests" / "fixtures" / "exports_0.1.0"
AUDIO = ROOT / "tests" / "fixtures" / "edge_cases" / "stereo_16k.wav"

#: Lines that create the file MARKER when the YAML is loaded, and the tag the refusal names.
PAYLOADS = {
    "os.system": ('evil: !apply:os.system ["touch {marker}"]\n', "!apply:os.system"),
    "eval": ("evil: !apply:eval [\"open('{marker}', 'w').close()\"]\n", "!apply:eval"),
    "Popen": ("evil: !new:subprocess.Popen [[touch, {marker}]]\n", "!new:subprocess.Popen"),
    "exec": ("evil: !apply:operator.call\n    - !name:builtins.exec\n"
             "    - \"open('{marker}', 'w').close()\"\n", "!apply:operator.call"),
    # hidden behind an anchor, reached only through !ref and an alias from allowed objects
    "ref": ("hidden: &h\n    status: !apply:os.system [\"touch {marker}\"]\n"
            "copy: !ref <hidden>\nagain: *h\n", "!apply:os.system"),
    "python tag": ('evil: !!python/object/apply:os.system ["touch {marker}"]\n',
                   "!!python/object/apply:os.system"),
}


def hostile_model(tmp_path: pathlib.Path, payload: str) -> tuple[pathlib.Path, pathlib.Path]:
    """A working model folder (the 0.1.0 LCNN export, which names only allowed code) whose
    hyperparams.yaml also holds ``payload``; its marker."""
    marker = tmp_path / "MARKER"
    folder = shutil.copytree(EXPORTS_010 / "lcnn-0.1.0", tmp_path / "model")
    text = (folder / "hyperparams.yaml").read_text()
    (folder / "hyperparams.yaml").write_text(text + PAYLOADS[payload][0].format(marker=marker))
    return folder, marker


def appeared(marker: pathlib.Path) -> bool:
    """Whether the marker exists (waiting a little for a Popen child)."""
    for _ in range(50):
        if marker.exists():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_hostile_model_refused_without_opt_in(payload, tmp_path, capsys):
    folder, marker = hostile_model(tmp_path, payload)
    tag = PAYLOADS[payload][1]
    with pytest.raises(UntrustedCodeError,
                       match=r"^hyperparams.yaml line \d+: " + re.escape(tag) + " is not allowed"):
        SpoofDetector.from_hparams(folder)
    assert score_main(["--model", str(folder), str(AUDIO), "--no-progress"]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and tag in error[0] and "--trust-remote-code" in error[0]
    assert not appeared(marker)


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_hostile_model_runs_with_opt_in(payload, tmp_path):
    folder, marker = hostile_model(tmp_path, payload)
    SpoofDetector.from_hparams(folder, trust_remote_code=True)
    assert appeared(marker)


def test_score_cli_opt_in(tmp_path, capsys):
    folder, marker = hostile_model(tmp_path, "os.system")
    assert score_main(["--model", str(folder), str(AUDIO), "--no-progress",
                       "--trust-remote-code"]) == 0
    assert appeared(marker)


def test_line_named_is_the_payload_line(tmp_path):
    hyperparams = tmp_path / "hyperparams.yaml"
    hyperparams.write_text("a: 1\nb: [1, 2]\nc:\n    d: !new:speechbrain_ssdctx.inference"
                           ".export.os.system\n")
    with pytest.raises(UntrustedCodeError, match=r"^hyperparams.yaml line 4: "):
        check_hparams(hyperparams)


@pytest.mark.parametrize("name", ["aasist", "aasist-l", "aasist-asvspoof5"])
def test_bundled_models_pass(name):
    check_hparams(ROOT / "speechbrain_ssdctx" / "pretrained" / f"{name}.yaml")


def test_export_010_of_package_code_loads_without_opt_in(tmp_path):
    copy = shutil.copytree(EXPORTS_010 / "lcnn-0.1.0", tmp_path / "lcnn-0.1.0")
    with warnings.catch_warnings():  # the 0.1.0 paths: still allowed, with a FutureWarning
        warnings.simplefilter("ignore", FutureWarning)
        detector = SpoofDetector.from_hparams(copy)
    assert detector.score_file(AUDIO) == pytest.approx(detector.score_file(AUDIO))


def test_shipped_code_needs_the_opt_in(tmp_path, capsys):
    """A folder's custom_interface.py is Python that runs at load: refused, never imported,
    unless the user opts in; the message says to read the file."""
    marker = tmp_path / "MARKER"
    folder = model_folder(tmp_path / "model")
    interface = folder / "custom_interface.py"
    interface.write_text(f"open({str(marker)!r}, 'w').close()\n" + interface.read_text())
    with pytest.raises(UntrustedCodeError, match=(
            r"^hyperparams.yaml line 7: !new:custom_interface.EnergyDetector is code shipped "
            r"in the model's custom_interface.py, which runs when the model loads; read")):
        SpoofDetector.from_hparams(folder)
    assert score_main(["--model", str(folder), str(AUDIO), "--no-progress"]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--trust-remote-code" in error[0]
    assert not appeared(marker)
    assert score_main(["--model", str(folder), str(AUDIO), "--no-progress",
                       "--trust-remote-code", "--savedir", str(tmp_path / "sd")]) == 0
    assert appeared(marker)


def test_export_010_with_shipped_code_scores_the_same_with_the_opt_in(tmp_path):
    copy = shutil.copytree(EXPORTS_010 / "xvector-0.1.0", tmp_path / "xvector-0.1.0")
    with pytest.raises(UntrustedCodeError, match="custom_interface.Xvector is code shipped"):
        SpoofDetector.from_hparams(copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        detector = SpoofDetector.from_hparams(copy, trust_remote_code=True)
    assert torch.isfinite(torch.tensor(detector.score_file(AUDIO)))


def test_hostile_run_folder_refused_by_export(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    run = tmp_path / "run"
    (run / "save").mkdir(parents=True)
    text = (EXPORTS_010 / "lcnn-0.1.0" / "training_hyperparams.yaml").read_text()
    (run / "hyperparams.yaml").write_text(
        text + f'__evil: !apply:os.system ["touch {marker}"]\n')
    assert export_main([str(run), str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "!apply:os.system is not allowed" in error[0]
    assert not appeared(marker) and not (tmp_path / "out").exists()
    export_main([str(run), str(tmp_path / "out"), "--trust-remote-code"])
    assert appeared(marker)


def test_export_never_writes_what_loading_refuses(tmp_path):

    definition = DetectorDefinition(
        "detector: !new:torch.nn.Linear [4, 2]\nwhere: !apply:os.getcwd []\n")
    with pytest.raises(ExportError, match="would name !apply:os.getcwd"):
        export_detector(torch.nn.Linear(4, 2), definition, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fresh_export_of_own_module_needs_the_opt_in(tmp_path):
    """A foreign recipe's own module, shipped as custom_interface: written by the export
    (its load check trusts its own output), loaded by others with the opt-in only; the
    card says so."""

    module = tmp_path / "my_layers.py"
    module.write_text("import torch\n\n\nclass Scorer(torch.nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n"
                      "        self.linear = torch.nn.Linear(1, 2)\n\n"
                      "    def forward(self, wavs, lengths=None):\n"
                      "        emb = wavs.mean(1, keepdim=True)\n"
                      "        return emb, self.linear(emb)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from my_layers import Scorer

        out = export_detector(Scorer(), DetectorDefinition("detector: !new:my_layers.Scorer\n"),
                              tmp_path / "out", python_modules=[module])
    finally:
        sys.path.remove(str(tmp_path))
    assert "!new:custom_interface.Scorer" in (out / "hyperparams.yaml").read_text()
    check_hparams(out / "hyperparams.yaml", MODEL_POLICY.extended(shipped=("custom_interface",)))
    with pytest.raises(UntrustedCodeError, match="custom_interface.Scorer is code shipped"):
        SpoofDetector.from_hparams(out)
    card = (out / "README.md").read_text()
    assert 'from_hparams("your-org/out", trust_remote_code=True)' in card
    assert "--model your-org/out --trust-remote-code" in card
    detector = SpoofDetector.from_hparams(out, trust_remote_code=True)
    assert torch.isfinite(torch.tensor(detector.score_file(AUDIO)))
