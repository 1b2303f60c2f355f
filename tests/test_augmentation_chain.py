"""AugmentationChain: per-utterance augmentation in the training set's pipeline.

Each utterance's draws are fixed by (seed, epoch, utterance id): checked against the
augmentations seeded by hand, with 0 and 2 loader workers (persistent, over two epochs),
after an intra-epoch resume of SpeechBrain's loader, and the training step must not run it.
"""

import pytest
import soundfile
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from recipe_utils import HPARAMS

from speechbrain_ssdctx.augment import AugmentationChain, RawBoost, utterance_seed
from speechbrain_ssdctx.data.dataio import load_datasets
from speechbrain_ssdctx.training.startup import run_hparams

SEED = 11
CROP = 4000  # longer than the files: repeat padding, no random crop start


class RandomGain(torch.nn.Module):
    """A stand-in with its own generator (as RawBoost): a gain in [0, 1)."""

    def __init__(self):
        super().__init__()
        self.generator = torch.Generator()

    def forward(self, waveforms):
        return waveforms * torch.rand((), generator=self.generator)


class GlobalNoise(torch.nn.Module):
    """A stand-in drawing from torch's global generator (as SpeechBrain's AddNoise)."""

    def forward(self, waveforms, lengths):
        return waveforms + 0.01 * torch.randn(waveforms.shape), lengths


def expected(crop: torch.Tensor, utt: str, epoch: int) -> torch.Tensor:
    """The chain's output computed directly: each step seeded by hand, in order."""
    seed = utterance_seed(SEED, epoch, utt, "rawboost")
    out = RawBoost(algorithm=7, seed=seed)(crop[None])[0]
    gain = torch.rand((), generator=torch.Generator().manual_seed(
        utterance_seed(SEED, epoch, utt, "gain")))
    torch.manual_seed(utterance_seed(SEED, epoch, utt, "noise"))
    return (out * gain + 0.01 * torch.randn(out.shape))[0]


def make_chain() -> AugmentationChain:
    return AugmentationChain(
        {"rawboost": RawBoost(algorithm=7), "gain": RandomGain(), "noise": GlobalNoise()},
        seed=SEED,
    )


def tiny_corpus(folder, count: int = 6):
    """``count`` distinct 0.1 s files and their manifest."""
    rows = ["ID,wav,label"]
    for index in range(count):
        path = folder / f"utt{index}.wav"
        signal = torch.randn(1600, generator=torch.Generator().manual_seed(index))
        soundfile.write(path, (0.1 * signal).numpy(), 16000, subtype="FLOAT")
        rows.append(f"utt{index},{path},{'bonafide' if index % 2 else 'spoof'}")
    manifest = folder / "train.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return {"train": manifest}


def clean_crops(manifests) -> dict:
    dataset = load_datasets(manifests, train_num_samples=CROP)["train"]
    return {item["id"]: item["sig"] for item in dataset}


def by_id(batches) -> dict:
    pairs = (zip(batch.id, batch.sig.data, strict=True) for batch in batches)
    return {utt: sig for batch in pairs for utt, sig in batch}


@pytest.mark.slow  # loader workers, a Brain or recipe YAMLs: a second or more
def test_each_utterance_is_seeded_by_epoch_and_id_with_0_or_2_persistent_workers(tmp_path):
    manifests = tiny_corpus(tmp_path)
    crops = clean_crops(manifests)
    for workers in (0, 2):
        chain = make_chain()
        dataset = load_datasets(manifests, train_num_samples=CROP, augmentation=chain)["train"]
        loader = sb.dataio.dataloader.make_dataloader(
            dataset, batch_size=2, shuffle=True, num_workers=workers,
            persistent_workers=workers > 0,
        )
        outputs = {}
        for epoch in (1, 2):  # the same worker processes see the new epoch
            chain.set_epoch(epoch)
            outputs[epoch] = by_id(loader)
            assert outputs[epoch].keys() == crops.keys()
            for utt, sig in outputs[epoch].items():
                torch.testing.assert_close(sig, expected(crops[utt], utt, epoch),
                                           msg=(workers, epoch, utt))
        assert not torch.equal(outputs[1]["utt0"], outputs[2]["utt0"])


def test_a_loader_resumed_mid_epoch_gives_the_rest_of_the_epoch_unchanged(tmp_path):
    manifests = tiny_corpus(tmp_path)

    def loader_of(chain, workers):
        dataset = load_datasets(manifests, train_num_samples=CROP, augmentation=chain)["train"]
        return sb.dataio.dataloader.make_dataloader(dataset, batch_size=2, num_workers=workers)

    chain = make_chain()
    chain.set_epoch(3)
    loader = loader_of(chain, workers=0)
    stream = iter(loader)
    next(stream)
    loader._speechbrain_save(tmp_path / "loader.ckpt")  # an intra-epoch checkpoint
    uninterrupted = by_id(stream)

    resumed_chain = make_chain()  # a new process: nothing of the first chain kept
    resumed_chain.set_epoch(3)
    resumed = loader_of(resumed_chain, workers=2)
    resumed._speechbrain_load(tmp_path / "loader.ckpt", end_of_epoch=False)
    rest = by_id(resumed)
    assert rest.keys() == uninterrupted.keys() and len(rest) == 4
    for utt, sig in rest.items():
        assert torch.equal(sig, uninterrupted[utt]), utt


def test_switches_probabilities_lengths_and_errors():
    crop = torch.linspace(-0.5, 0.5, 400)
    gain = AugmentationChain({"gain": RandomGain(), "off": GlobalNoise()},
                             enabled={"off": False}, probabilities={"gain": 0.3}, seed=SEED)
    assert gain.names == ["gain"]
    gain.set_epoch(1)
    kept = [torch.equal(gain(crop, f"u{i}"), crop) for i in range(400)]
    assert abs(sum(kept) / 400 - 0.7) < 0.08  # binomial sd 0.023
    outside = torch.get_rng_state()
    global_chain = AugmentationChain({"noise": GlobalNoise()}, seed=SEED)
    global_chain.set_epoch(1)
    global_chain(crop, "u0")
    assert torch.equal(torch.get_rng_state(), outside)  # the global stream is left alone

    shorter = AugmentationChain({"cut": lambda waveforms: waveforms[:, :300]}, seed=SEED)
    shorter.set_epoch(1)
    torch.testing.assert_close(shorter(crop, "u0"), torch.cat([crop[:300], crop[:100]]))
    for bad, match in (({"enabled": {"typo": True}}, "enabled names typo"),
                       ({"probabilities": {"gain": 1.5}}, r"must be in \[0, 1\]")):
        try:
            AugmentationChain({"gain": RandomGain()}, **bad)
        except ValueError as error:
            assert match.replace("\\", "") in str(error) or match in str(error)
        else:
            raise AssertionError(bad)
    unset = AugmentationChain({"gain": RandomGain()})
    try:
        unset(crop, "u0")
    except RuntimeError as error:
        assert "set_epoch" in str(error)
    else:
        raise AssertionError("a chain without an epoch augmented")


@pytest.mark.slow  # loader workers, a Brain or recipe YAMLs: a second or more
def test_detector_brain_gives_the_epoch_and_never_augments_in_the_step(tmp_path):
    from speechbrain.utils.epoch_loop import EpochCounter

    from speechbrain_ssdctx.method.context import ContextLoss
    from speechbrain_ssdctx.training.brain import DetectorBrain

    calls = []
    in_step = []

    class Spy(RawBoost):
        def forward(self, waveforms, lengths=None):
            calls.append(bool(in_step))
            return super().forward(waveforms, lengths)

    class Probe(torch.nn.Module):
        embedding_dim = 2

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 2)

        def forward(self, wavs, lengths=None):
            embedding = self.linear(wavs.mean(dim=1, keepdim=True))
            return embedding, embedding

    class StepFlagBrain(DetectorBrain):
        def fit_batch(self, batch):
            in_step.append(True)
            try:
                return super().fit_batch(batch)
            finally:
                in_step.clear()

    chain = AugmentationChain({"rawboost": Spy(algorithm=2)}, seed=SEED)
    manifests = tiny_corpus(tmp_path, count=4)
    dataset = load_datasets(manifests, train_num_samples=CROP, augmentation=chain)["train"]
    detector = Probe()
    brain = StepFlagBrain(
        modules={"detector": detector,
                 "context": ContextLoss(detector, use_inf=False, use_ini=False)},
        opt_class=lambda params: torch.optim.SGD(params, lr=0.1),
        hparams={"epoch_counter": EpochCounter(2), "wav_augment_chain": chain, "batch_size": 2},
        run_opts={"noprogressbar": True},
    )
    brain.fit(brain.hparams.epoch_counter, dataset,
              train_loader_kwargs={"batch_size": 2, "num_workers": 0})
    assert chain.epoch == 2
    assert len(calls) == 8 and not any(calls)  # 4 utterances x 2 epochs, none in a step


@pytest.mark.slow  # loader workers, a Brain or recipe YAMLs: a second or more
def test_recipes_build_the_chain_from_the_augmentation_block():
    block = (HPARAMS / "blocks" / "augmentation.yaml").read_text()
    built = load_hyperpyyaml("seed: 3\nsample_rate: 16000\n" + block,
                             {"rawboost": True, "rawboost_algorithm": 3})
    chain = built["wav_augment_chain"]
    assert chain.names == ["rawboost"] and chain.seed == 3
    assert chain.augmentations["rawboost"] is built["rawboost_augmentation"]
    assert built["rawboost_augmentation"].algorithm == 3
    assert not load_hyperpyyaml("seed: 3\nsample_rate: 16000\n" + block)["wav_augment_chain"]
    # The paper's recipes: off; the SSL recipes and the real-world variant: RawBoost 5 on,
    # and no augmentation left in the training step.
    for name, rawboost in (("lcnn_inf_ini.yaml", False), ("ssl_layers_inf_ini.yaml", True),
                           ("ssl_aasist_realworld.yaml", True)):
        hparams = run_hparams(HPARAMS / name, [])
        assert hparams["rawboost"] is rawboost and "wav_augment" not in hparams, name
        assert hparams["rawboost_algorithm"] == 5, name
