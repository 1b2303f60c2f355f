"""A tiny detector with a closed-form output, and a model folder around it, for scoring tests."""

from pathlib import Path

import torch

from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector


class EnergyDetector(torch.nn.Module):
    """Logits ``[0, scale * log(mean |x|)]``; records the shape of every input batch.

    Silence gives a logit of minus infinity (a non-finite score).
    """

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0))
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, wavs, lengths=None):
        self.shapes.append(tuple(wavs.shape))
        level = wavs.abs().mean(dim=1)
        logits = torch.stack([torch.zeros_like(level), self.scale * torch.log(level)], dim=1)
        return torch.stack([level, wavs.std(dim=1)], dim=1), logits


def reference_logits(wav: torch.Tensor) -> torch.Tensor:
    """What ``EnergyDetector`` gives for one window, computed directly."""
    return torch.stack([torch.tensor(0.0), 2.0 * torch.log(wav.double().abs().mean()).float()])


YAML = """\
sample_rate: 16000
window_policy: {policy}
window_samples: {samples}
window_seconds: {window}
hop_seconds: {hop}
threshold: 0.0
detector: !new:custom_interface.EnergyDetector
modules:
    detector: !ref <detector>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        detector: !ref <detector>
    custom_hooks:
        detector: !name:speechbrain_ssdctx.inference.load_weights
"""


def model_folder(folder: Path, policy="full", samples="null", window=1.0, hop=0.5) -> Path:
    """An exported-style model folder of ``EnergyDetector`` (shipped in ``custom_interface.py``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hyperparams.yaml").write_text(
        YAML.format(policy=policy, samples=samples, window=window, hop=hop)
    )
    torch.save(EnergyDetector().state_dict(), folder / "detector.ckpt")
    # as an export ships the user's modules: loading it needs trust_remote_code
    (folder / "custom_interface.py").write_text(
        "from tiny_detector import EnergyDetector, SlowEnergyDetector  # noqa: F401\n"
    )
    return folder


def load(folder: Path, **kwargs) -> SpoofDetector:
    return SpoofDetector.from_hparams(model_folder(folder, **kwargs), savedir=folder / "load",
                                      trust_remote_code=True)


class SlowEnergyDetector(EnergyDetector):
    """``EnergyDetector`` taking 50 ms per batch: a run that can be stopped midway."""

    def forward(self, wavs, lengths=None):
        import time

        time.sleep(0.05)
        return super().forward(wavs, lengths)


def trusted(model) -> list[str]:
    """``ssdctx-score`` arguments loading ``model`` (which ships its own code) with the opt-in."""
    return ["--model", str(model), "--trust-remote-code"]
