"""The multi-GPU and precision settings: every recipe declares them, ``auto`` is settled for
the device, the command line wins, the batch semantics and the loader options follow."""

import re
from types import SimpleNamespace

import pytest
import speechbrain as sb
import torch
from recipe_utils import HPARAMS

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.training.startup import start_recipe
from speechbrain_ssdctx.training.typed_hparams import HparamError
from speechbrain_ssdctx.utils.distributed import per_process_batch_size, resolve_run_options
from speechbrain_ssdctx.utils.hparams_blocks import compose_hparams

#: The block every training YAML merges (hparams/blocks/run.yaml), each key with a comment.
MULTI_GPU_KEYS = (
    "batch_size", "batch_semantics", "eval_batch_size", "grad_accumulation_factor",
    "distributed_backend", "sync_batchnorm", "find_unused_parameters", "precision",
    "eval_precision", "num_workers", "pin_memory",
)
RUN_BLOCK = HPARAMS / "blocks" / "run.yaml"
TRAINING_YAMLS = sorted(HPARAMS.glob("*.yaml"))


def test_every_training_yaml_declares_the_commented_block():
    assert len(TRAINING_YAMLS) >= 7
    lines = RUN_BLOCK.read_text().splitlines()
    for key in MULTI_GPU_KEYS:
        found = [i for i, line in enumerate(lines) if line.startswith(f"{key}:")]
        assert len(found) == 1, key
        line, above = lines[found[0]], lines[found[0] - 1]
        assert "#" in line or above.startswith("#"), (key, "no comment")
    for path in TRAINING_YAMLS:
        text = compose_hparams(path)  # the file with its blocks merged, as the recipe runs it
        composed = text.splitlines()
        for key in MULTI_GPU_KEYS:
            assert sum(line.startswith(f"{key}:") for line in composed) == 1, (path.name, key)
        # class_weights in every recipe, reaching the classification loss of the context.
        assert sum(line.startswith("class_weights:") for line in composed) == 1, path.name
        loss = re.search(r"!new:speechbrain_ssdctx\.method\.losses\.ClassificationLoss\n"
                         r"\s+class_weights: !ref <class_weights>", text)
        assert loss, path.name
        assert re.search(r"classification_loss_fn: (!ref <classification_loss>|"
                         r"!new:speechbrain_ssdctx\.method\.losses\.ClassificationLoss)",
                         text), path.name
        # The paper's 4 GPUs (Tak et al.'s SSL set-up: one GPU, shown on 2).
        assert re.search(r"torchrun --nproc_per_node=[24] recipes/train.py hparams/"
                         + re.escape(path.name), path.read_text()), path.name


def test_auto_is_settled_for_the_device_and_the_command_line_wins():
    declared = {"distributed_backend": "auto", "precision": "auto", "eval_precision": "bf16"}
    settled = resolve_run_options(sb.parse_arguments(["x.yaml", "--device=cpu"])[1], declared)
    assert (settled.distributed_backend, settled.precision, settled.eval_precision) == (
        "gloo", "fp32", "bf16")
    _, cli, _ = sb.parse_arguments(["x.yaml", "--device=cpu", "--precision=bf16",
                                    "--eval_precision=fp32"])
    settled = resolve_run_options(cli, declared)
    assert (settled.precision, settled.eval_precision) == ("bf16", "fp32")
    # Brain takes the settled values over the hparams' "auto" strings.
    assert {"distributed_backend", "precision"} <= settled.overridden_args


@pytest.mark.parametrize("declared, message", [
    ({"distributed_backend": "nccl"}, "distributed_backend nccl needs CUDA"),
    ({"distributed_backend": "tcp"}, "distributed_backend must be auto or one of"),
    ({"precision": "fp16"}, "precision fp16 needs a GPU"),
    ({"precision": "float16"}, "precision must be auto or one of"),
])
def test_bad_settings_are_named(declared, message):
    with pytest.raises(ValueError, match=message):
        resolve_run_options(sb.RunOptions(device="cpu"), declared)


def test_the_recipe_start_settles_the_yaml_and_names_a_bad_setting(tmp_path):
    args = [str(HPARAMS / "lcnn.yaml"), "--device=cpu", f"--output_folder={tmp_path}"]
    settled = start_recipe(args).run_opts
    assert (settled.distributed_backend, settled.precision) == ("gloo", "fp32")
    assert start_recipe([*args, "--precision=bf16"]).run_opts.precision == "bf16"
    with pytest.raises(HparamError, match="precision fp16 needs a GPU"):
        start_recipe([*args, "--precision=fp16"])
    with pytest.raises(HparamError, match="batch_semantics: 'globl'"):
        start_recipe([*args, "--batch_semantics=globl"])
    # The typed checks know the new keys: "auto" or a number, a list of weights.
    assert start_recipe([*args, "--num_workers=2"]).hparams["num_workers"] == 2
    with pytest.raises(HparamError, match=r"num_workers: 'many' .* expects auto or an integer"):
        start_recipe([*args, "--num_workers=many"])
    with pytest.raises(HparamError, match=r"class_weights: \[0.1, -1\] .* out of range"):
        start_recipe([*args, "--class_weights=[0.1, -1]"])


def test_global_batch_divides_over_processes_and_accumulation():
    for world, accumulation in [(1, 1), (2, 1), (4, 1), (2, 2), (8, 8)]:
        per_process = per_process_batch_size(64, world, accumulation)
        assert per_process * world * accumulation == 64
    with pytest.raises(ValueError, match="a global batch of 8 does not divide into 3"):
        per_process_batch_size(8, 3)
    with pytest.raises(ValueError, match="grad_accumulation_factor must be a positive"):
        per_process_batch_size(8, 2, 0)


class Linear(torch.nn.Module):
    embedding_dim = 2

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(8, 2)

    def forward(self, wavs, lengths=None):
        return self.layer(wavs), self.layer(wavs)


def brain(monkeypatch, world: int, run_opts=None, **hparams) -> DetectorBrain:
    monkeypatch.setenv("WORLD_SIZE", str(world))
    detector = Linear()
    context = ContextLoss(detector, use_inf=False, use_ini=False)
    hparams = {"batch_size": 8, "eval_batch_size": 5, "num_workers": "auto",
               "pin_memory": "auto", **hparams}
    return DetectorBrain(modules={"detector": detector, "context": context},
                         hparams=hparams, run_opts={"device": "cpu", **(run_opts or {})})


def test_batch_semantics_and_loader_options(monkeypatch):
    assert brain(monkeypatch, 4).batch_size() == 8  # per process: SpeechBrain's default
    assert brain(monkeypatch, 4, batch_semantics="per_process").batch_size() == 8
    assert brain(monkeypatch, 4, batch_semantics="global").batch_size() == 2
    accumulating = brain(monkeypatch, 2, {"grad_accumulation_factor": 2},
                         batch_semantics="global")
    assert accumulating.batch_size() == 2
    assert accumulating.run_settings()["global_batch"] == 8
    with pytest.raises(ValueError, match="does not divide into 3 processes"):
        brain(monkeypatch, 3, batch_semantics="global").batch_size()
    with pytest.raises(ValueError, match="batch_semantics must be one of global, per_process"):
        brain(monkeypatch, 1, batch_semantics="total").batch_size()
    train = brain(monkeypatch, 1, drop_last=True).loader_kwargs(sb.Stage.TRAIN)
    assert train == {"batch_size": 8, "shuffle": True, "drop_last": True, "num_workers": 0,
                     "pin_memory": False}
    valid = brain(monkeypatch, 1, num_workers=2).loader_kwargs(sb.Stage.VALID)
    assert valid == {"batch_size": 5, "num_workers": 2, "pin_memory": False,
                     "persistent_workers": True}


def test_sync_batchnorm_needs_a_gpu(monkeypatch):
    assert brain(monkeypatch, 1).sync_batchnorm is False  # auto on the CPU
    on_cpu = brain(monkeypatch, 2, sync_batchnorm=True)
    on_cpu.distributed_launch = True
    with pytest.raises(ValueError, match="sync_batchnorm: True needs GPUs"):
        on_cpu._wrap_distributed()
    with pytest.raises(ValueError, match="sync_batchnorm must be auto, True or False"):
        _ = brain(monkeypatch, 1, sync_batchnorm="yes").sync_batchnorm


def test_declared_precision_runs_the_forward_under_autocast_with_float32_losses(monkeypatch):
    seen = []

    class Recorder(Linear):
        def forward(self, wavs, lengths=None):
            seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                        else None)
            return super().forward(wavs, lengths)

    detector = Recorder()
    context = ContextLoss(detector, use_inf=False, use_ini=False)
    trainer = DetectorBrain(
        modules={"detector": detector, "context": context},
        opt_class=lambda params: torch.optim.SGD(params, lr=0.1),
        hparams={"precision": "bf16", "batch_size": 2}, run_opts={"device": "cpu"},
    )
    trainer.init_optimizers()
    trainer.on_stage_start(sb.Stage.TRAIN)
    data = SimpleNamespace(id=["a", "b"], sig=(torch.randn(2, 8), torch.ones(2)),
                           label_id=torch.tensor([0, 1]))
    loss = trainer.fit_batch(data)
    assert trainer.precision == "bf16" and seen == [torch.bfloat16]
    assert loss.dtype == torch.float32
