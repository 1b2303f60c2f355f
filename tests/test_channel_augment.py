"""Noise and reverberation in the augmentation chain: SpeechBrain's AddNoise / AddReverb with
the file drawn per utterance (the same with 0 or 2 loader workers and in any order, different
across utterances), and the start-up check of a switch on without its CSV."""

import numpy
import pytest
import soundfile
import torch
from torch.utils.data import DataLoader, Dataset

from speechbrain_ssdctx.augment import AugmentationChain, UtteranceAddNoise, UtteranceAddReverb
from speechbrain_ssdctx.data.noise import write_noise_csv
from speechbrain_ssdctx.training.startup import run_hparams, start_recipe
from speechbrain_ssdctx.training.typed_hparams import HparamError, check_augmentation

RATE = 16000
NOISE_HZ = (500, 1250, 2000, 3000, 4500, 6000)  # one tone per noise file
DELAYS = (20, 45, 90, 160)  # one echo per impulse response
SPEECH_HZ = 100
KEYS = [f"utt{i:02d}" for i in range(12)]


def noise_csv(folder):
    files = []
    for hz in NOISE_HZ:
        path = folder / f"tone{hz}.wav"
        soundfile.write(path, 0.3 * numpy.sin(2 * numpy.pi * hz * numpy.arange(RATE) / RATE),
                        RATE)
        files.append((f"tone{hz}", path))
    write_noise_csv(files, folder / "noise.csv")
    return str(folder / "noise.csv")


def rir_csv(folder):
    files = []
    for delay in DELAYS:
        rir = numpy.zeros(200)
        rir[0], rir[delay] = 1.0, 0.5
        soundfile.write(folder / f"echo{delay}.wav", rir, RATE)
        files.append((f"echo{delay}", folder / f"echo{delay}.wav"))
    write_noise_csv(files, folder / "rirs.csv")
    return str(folder / "rirs.csv")


def speech(key):
    """A low tone per utterance (the noise's tone stands out above it)."""
    phase = KEYS.index(key) / len(KEYS)
    return 0.2 * torch.sin(2 * torch.pi * (SPEECH_HZ * torch.arange(RATE // 2) / RATE + phase))


class Utterances(Dataset):
    def __init__(self, chain, keys):
        self.chain, self.keys = chain, keys

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, index):
        key = self.keys[index]
        return key, self.chain(speech(key), key)


def augmented(chain, keys, num_workers):
    loader = DataLoader(Utterances(chain, keys), batch_size=None, num_workers=num_workers)
    return {key: wav for key, wav in loader}


def noise_file(key, noisy):
    """The noise tone added to an utterance: the spectrum's peak above the speech's tone."""
    spectrum = numpy.abs(numpy.fft.rfft(noisy.numpy()))
    freqs = numpy.fft.rfftfreq(len(noisy), 1 / RATE)
    spectrum[freqs < 4 * SPEECH_HZ] = 0
    peak = freqs[numpy.argmax(spectrum)]
    return min(NOISE_HZ, key=lambda hz: abs(hz - peak))


def rir_file(key, reverberant):
    """The echo whose circular convolution with the utterance fits the output best."""
    clean = speech(key).double().numpy()
    out = reverberant.double().numpy()

    def residual(delay):
        expected = clean + 0.5 * numpy.roll(clean, delay)
        factor = out @ expected / (expected @ expected)
        return numpy.linalg.norm(out - factor * expected)

    return min(DELAYS, key=residual)


@pytest.fixture
def csvs(tmp_path):
    return noise_csv(tmp_path), rir_csv(tmp_path)


def chain_of(name, module):
    chain = AugmentationChain({name: module}, seed=5)
    chain.set_epoch(1)
    return chain


def same_in_any_order_and_worker(chain):
    """The chain's outputs over KEYS in the main process, after checking that reverse order
    and two loader workers give the same ones."""
    serial = augmented(chain, KEYS, 0)
    backwards = augmented(chain, KEYS[::-1], 0)
    workers = augmented(chain, KEYS, 2)
    for key in KEYS:
        assert torch.equal(serial[key], backwards[key]), key
        assert torch.equal(serial[key], workers[key]), key
    return serial


@pytest.mark.slow
def test_noise_depends_on_the_utterance_not_on_workers_or_order(csvs):
    chain = chain_of("noise", UtteranceAddNoise(csvs[0], snr_low=0, snr_high=0))
    serial = same_in_any_order_and_worker(chain)
    drawn = {key: noise_file(key, serial[key]) for key in KEYS}
    assert len(set(drawn.values())) >= 3  # 12 utterances, 6 files: not one file for all
    # Another epoch draws again.
    chain.set_epoch(2)
    assert {key: noise_file(key, wav) for key, wav in augmented(chain, KEYS, 0).items()} != drawn


@pytest.mark.slow
def test_reverberation_depends_on_the_utterance_not_on_workers_or_order(csvs):
    chain = chain_of("reverb", UtteranceAddReverb(csvs[1]))
    serial = same_in_any_order_and_worker(chain)
    drawn = [rir_file(key, serial[key]) for key in KEYS]
    assert len(set(drawn)) >= 2


def test_the_first_call_draws_as_the_later_ones(csvs):
    """The lazily built loader leaves the draws of the call that builds it unchanged."""
    fresh = chain_of("noise", UtteranceAddNoise(csvs[0], snr_low=0, snr_high=10))
    used = chain_of("noise", UtteranceAddNoise(csvs[0], snr_low=0, snr_high=10))
    used(speech(KEYS[0]), KEYS[0])
    assert torch.equal(fresh(speech(KEYS[1]), KEYS[1]), used(speech(KEYS[1]), KEYS[1]))


def test_a_switch_on_without_its_csv_stops_at_start_up():
    for switch, key in (("noise", "noise_csv"), ("reverb", "rir_csv")):
        with pytest.raises(HparamError, match=f"^{key}: null but --{switch}=True needs it"):
            check_augmentation({switch: True, key: None}, overridden=[switch])
    with pytest.raises(HparamError, match="codec_list: codec 'mp4' is unknown"):
        check_augmentation({"codec": True, "codec_list": ["mp3", "mp4"]})
    with pytest.raises(HparamError, match="noise_snr_low: 20 is above"):
        check_augmentation({"noise_snr_low": 20, "noise_snr_high": 5})


@pytest.mark.slow  # resolves two recipe YAMLs: seconds
def test_the_papers_recipes_keep_every_augmentation_off(tmp_path):
    values = run_hparams("hparams/lcnn_inf_ini.yaml")
    assert [values[name] for name in ("rawboost", "reverb", "noise", "codec")] == [False] * 4
    realworld = run_hparams("hparams/ssl_aasist_realworld.yaml")
    assert [realworld[name] for name in ("rawboost", "reverb", "noise", "codec")] == [True] * 4
    # Its run stops at start-up until it is given the noise CSV.
    with pytest.raises(HparamError, match="^noise_csv: null but noise: True needs it"):
        start_recipe(["hparams/ssl_aasist_realworld.yaml", f"--output_folder={tmp_path}"])
