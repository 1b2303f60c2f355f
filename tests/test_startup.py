"""Recipe start-up: typed hyperparameters, one-line user errors, the demo schedule."""

import shutil
import subprocess
import sys

import pytest
import torch
from recipe_utils import HPARAMS, ROOT, recipe_env, train_command

from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.training.startup import TRACEBACK_ENV, report_user_errors, start_recipe
from speechbrain_ssdctx.training.typed_hparams import HparamError
from speechbrain_ssdctx.utils.hparams_blocks import compose_hparams

LCNN = str(HPARAMS / "lcnn_inf_ini.yaml")

BAD_OVERRIDES = {
    "--use_inf=no": ("use_inf: 'no'", "True or False"),
    "--use_inf=off": ("use_inf: 'off'", "True or False"),
    "--use_ini=1": ("use_ini: 1", "True or False"),
    "--lambda_inf=abc": ("lambda_inf: 'abc'", "a number >= 0"),
    "--lambda_ini=-1": ("lambda_ini: -1", "a number >= 0"),
    "--batch_size=0": ("batch_size: 0", "an integer >= 1"),
    "--number_of_epochs=2.5": ("number_of_epochs: 2.5", "an integer >= 1"),
    "--momentum=1.0": ("momentum: 1.0", "< 1"),
    "--eval_window=middle": ("eval_window: 'middle'", "official, first, full"),
    "--kl_direction=both": ("kl_direction: 'both'", "forward, reverse, symmetric"),
    "--use_inff=False": ("--use_inff: ", "did you mean use_inf?"),
    "--data_folder=/no/such/LA": ("data_folder: '/no/such/LA'", "does not exist"),
    "--device=banana": ("device: 'banana'", "cpu, cuda, cuda:N or mps"),
}


@pytest.mark.parametrize("override", sorted(BAD_OVERRIDES))
def test_bad_override_is_one_line_naming_key_value_and_expectation(override, tmp_path):
    with pytest.raises(HparamError) as error:
        start_recipe([LCNN, f"--output_folder={tmp_path}", override])
    message = str(error.value)
    assert "\n" not in message
    for part in BAD_OVERRIDES[override]:
        assert part in message


def test_typo_in_the_yaml_itself_is_named(tmp_path):
    text = (HPARAMS / "lcnn_inf_ini.yaml").read_text()
    assert "\nuse_ini: True\n" in text
    shutil.copytree(HPARAMS, tmp_path / "hparams")  # with models/ and blocks/ it includes
    edited = tmp_path / "hparams" / "lcnn_inf_ini.yaml"
    edited.write_text(text.replace("\nuse_ini: True\n", "\nuse_ini: Ture\n"))
    with pytest.raises(HparamError, match=rf"use_ini: 'Ture' \(from {edited}\) is not a boolean"):
        start_recipe([str(edited), f"--output_folder={tmp_path}"])


def test_save_folder_that_is_a_file(tmp_path):
    (tmp_path / "save").write_text("not a folder")
    with pytest.raises(HparamError, match="save_folder: .* is a file, not a folder"):
        start_recipe([LCNN, f"--output_folder={tmp_path}", f"--save_folder={tmp_path}/save"])
    with pytest.raises(HparamError, match="output_folder: .* cannot be created: .* is a file"):
        start_recipe([LCNN, f"--output_folder={tmp_path}/save/run"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_device_without_gpu(tmp_path):
    with pytest.raises(HparamError, match="device: 'cuda:0' but torch sees no CUDA GPU"):
        start_recipe([LCNN, f"--output_folder={tmp_path}", "--device=cuda:0"])


def test_good_switches_reach_the_modules(tmp_path):
    start = start_recipe([LCNN, f"--output_folder={tmp_path}", "--use_inf=False",
                          "--lambda_ini=0.5", "--data_folder=" + str(demo_corpus_folder())])
    context = start.hparams["context"]
    assert context.use_inf is False and context.use_ini is True
    assert context.lambda_ini == 0.5
    assert start.demo == {} and start.hparams["number_of_epochs"] == 100  # the paper's


def test_demo_schedule_applies_without_data_unless_overridden(tmp_path):
    import ruamel.yaml

    declared = ruamel.yaml.YAML().load(compose_hparams(HPARAMS / "lcnn_inf_ini.yaml"))
    schedule = dict(declared["demo_schedule"])
    assert schedule["number_of_epochs"] < declared["number_of_epochs"]

    start = start_recipe([LCNN, "--number_of_epochs=3", "--seed=5"])
    assert start.hparams["number_of_epochs"] == 3  # the command line wins
    assert start.demo["batch_size"] == schedule["batch_size"] == start.hparams["batch_size"]
    assert start.hparams["output_folder"] == "results/demo/lcnn_inf_ini/5"
    assert start.hparams["epoch_counter"].limit == 3
    assert start.overrides["lr"] == schedule["lr"] == start.hparams["lr"]
    summary = start.summary({"dev": {"eer": 12.5}})  # evaluate_scores: EER in percent
    assert "Demo finished" in summary and "demo dev EER 12.5%" in summary
    assert f"python recipes/train.py {LCNN} --data_folder=/path/to/LA" in summary

    plain = start_recipe([LCNN, f"--output_folder={tmp_path}", "--demo_schedule=null"])
    assert plain.demo == {} and plain.hparams["number_of_epochs"] == 100
    assert plain.summary({}) == ""


def test_user_error_hook_prints_one_line_unless_traceback_asked(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(sys, "excepthook", lambda *info: shown.append(info))
    report_user_errors("train.py")
    error = HparamError("use_inf: 'no' is not a boolean")
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    sys.excepthook(HparamError, error, None)
    assert capsys.readouterr().err.splitlines() == [
        f"train.py: error: use_inf: 'no' is not a boolean (set {TRACEBACK_ENV}=1 for the "
        "traceback)"
    ]
    assert shown == []
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    sys.excepthook(HparamError, error, None)
    sys.excepthook(ZeroDivisionError, ZeroDivisionError(), None)  # a bug: always traced
    assert [info[0] for info in shown] == [HparamError, ZeroDivisionError]


@pytest.mark.slow
def test_recipe_command_line_mistake_ends_in_one_line(tmp_path):
    process = subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "train.py"), LCNN, "--use_inf=no",
         f"--output_folder={tmp_path}/run"],
        cwd=tmp_path, env=recipe_env(), capture_output=True, text=True, timeout=300,
    )
    assert process.returncode != 0
    assert "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines() == [
        "train.py: error: use_inf: 'no' (from --use_inf=no) is not a boolean; expects True or "
        f"False (YAML reads yes/no/on/off as text) (set {TRACEBACK_ENV}=1 for the traceback)"
    ]
    assert not (tmp_path / "run").exists()  # nothing was started


def one_line_stderr(process) -> str:
    """The stderr of a recipe that stopped on a user's mistake: one line, no traceback."""
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr
    lines = [line for line in process.stderr.splitlines()
             if line.strip() and not line.startswith("speechbrain.")]  # SpeechBrain's notes
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("train.py: error: ")
    return lines[0]


@pytest.mark.slow
def test_missing_audio_after_the_experiment_folder_is_one_line(tmp_path):
    # SpeechBrain's create_experiment_directory replaces sys.excepthook before the data
    # are prepared: the line must survive it, and name the recipe's own key.
    process = subprocess.run(
        train_command("lcnn_inf_ini.yaml", tmp_path / "run",
                      f"--data_folder={ROOT / 'tests/fixtures/asvspoof2019_la/LA'}"),
        cwd=tmp_path, env=recipe_env(), capture_output=True, text=True, timeout=600,
    )
    line = one_line_stderr(process)
    assert "files missing" in line and "--skip_missing_audio=True" in line
    assert (tmp_path / "run" / "log.txt").is_file()  # it was past the experiment folder


@pytest.mark.slow
def test_resuming_with_another_model_shape_is_one_line(quick_lcnn_inf_ini_run, tmp_path):
    run = tmp_path / "run"  # a finished run of lcnn_inf_ini.yaml, with its checkpoints
    shutil.copytree(quick_lcnn_inf_ini_run, run)
    process = subprocess.run(
        train_command("lcnn_inf_ini.yaml", run, "--n_mels=32", "--number_of_epochs=2"),
        cwd=tmp_path, env=recipe_env(), capture_output=True, text=True, timeout=600,
    )
    assert "checkpoint" in one_line_stderr(process).lower()
