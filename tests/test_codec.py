"""CodecAugment: every codec keeps the input's length and alignment (scipy cross-correlation
on speech), is lossy, is seeded; G.711 checked against the standard's formulas and
torchaudio's mu-law companding."""

import io
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile
import torch
import torchaudio.functional
from speechbrain.augment.augmenter import Augmenter

import speechbrain_ssdctx.data
from speechbrain_ssdctx.augment import CodecAugment, CodecSetting
from speechbrain_ssdctx.augment.codec import CODECS, encode_decode

FS = 16000
SPEECH_FILE = (
    Path(speechbrain_ssdctx.data.__file__).parent
    / "demo/LA/ASVspoof2019_LA_dev/flac/LA_D_0000001.flac"
)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """1 s of bona fide speech from the demo corpus (16 kHz)."""
    signal, rate = soundfile.read(SPEECH_FILE, dtype="float64")
    assert rate == FS
    return signal[2000:2000 + FS]


def xcorr_peak_lag(reference: np.ndarray, other: np.ndarray, max_lag: int = 2000) -> int:
    """The lag (samples) of ``other`` behind ``reference`` at the cross-correlation peak."""
    corr = scipy.signal.correlate(other, reference, mode="full")
    lags = scipy.signal.correlation_lags(len(other), len(reference), mode="full")
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(corr[window])])


def snr_db(clean: np.ndarray, coded: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean**2) / np.sum((coded - clean) ** 2)))


@pytest.mark.parametrize(
    ("name", "quality"),
    [(name, None) for name in CODECS] + [("mp3", 8), ("mp3", 320), ("opus", 6), ("vorbis", 10)],
)
def test_each_codec_keeps_length_and_alignment_and_is_lossy(speech, name, quality):
    coded = encode_decode(speech, FS, name, quality)
    assert coded.shape == speech.shape
    assert xcorr_peak_lag(speech, coded) == 0
    # lossy, yet the same speech: far from the input sample-wise, close in shape (for the
    # telephone channel, close to the input band-limited by an independent filter)
    assert np.abs(coded - speech).max() > 1e-3
    reference = telephone_band(speech) if name == "telephone" else speech
    assert np.corrcoef(coded, reference)[0, 1] > 0.6


def telephone_band(wav: np.ndarray) -> np.ndarray:
    """``wav`` through a 300-3,400 Hz Butterworth band-pass (scipy, zero phase)."""
    sos = scipy.signal.butter(8, [300, 3400], btype="bandpass", fs=FS, output="sos")
    return scipy.signal.sosfiltfilt(sos, wav)


@pytest.mark.parametrize(("kbps", "rate"), [(8, 16000), (64, 16000), (192, 32000)])
def test_mp3_bit_rates_with_and_without_lame_gapless_tag(speech, kbps, rate):
    """At 8 kbps LAME writes no gapless tag (mpg123 keeps its 1,105-sample delay), at 64 it
    does; 192 kbps needs MPEG-1, so 16 kHz audio is encoded at 32 kHz. All come out aligned,
    and the file's size is the asked bit rate (constant bit rate)."""
    coded = encode_decode(speech, FS, "mp3", kbps)
    assert coded.shape == speech.shape and xcorr_peak_lag(speech, coded) == 0
    buffer = io.BytesIO()
    codec = CODECS["mp3"]
    upsampled = scipy.signal.resample_poly(speech, rate, FS)
    soundfile.write(buffer, upsampled, rate, format="MP3", subtype="MPEG_LAYER_III",
                    **codec.options(kbps, rate))
    measured = buffer.tell() * 8 / 1000 / (len(upsampled) / rate)
    assert 0.9 * kbps <= measured <= 1.15 * kbps + 2


@pytest.mark.parametrize("kbps", [12, 64])
def test_opus_quality_is_its_bit_rate(speech, kbps):
    buffer = io.BytesIO()
    soundfile.write(buffer, speech, FS, format="OGG", subtype="OPUS",
                    **CODECS["opus"].options(kbps, FS))
    measured = buffer.tell() * 8 / 1000
    assert 0.8 * kbps <= measured <= 1.2 * kbps + 5  # plus Ogg pages' overhead
    assert snr_db(speech, encode_decode(speech, FS, "opus", 64)) > snr_db(
        speech, encode_decode(speech, FS, "opus", 12)
    ) + 3


def test_narrow_band_codecs_remove_what_is_above_4_khz():
    """gsm, g721 and telephone work at 8 kHz: a 6 kHz tone does not get through; telephone
    also stops 100 Hz."""
    time = np.arange(FS) / FS
    for name in ("gsm", "g721", "telephone"):
        high = encode_decode(0.3 * np.sin(2 * np.pi * 6000 * time), FS, name)
        assert np.sqrt(np.mean(high**2)) < 0.01 * 0.3
    low = encode_decode(0.3 * np.sin(2 * np.pi * 100 * time), FS, "telephone")
    assert np.sqrt(np.mean(low[2000:-2000] ** 2)) < 0.05 * 0.3


# ---- G.711 ---------------------------------------------------------------------------------

def g711_mulaw(x: np.ndarray) -> np.ndarray:
    """ITU-T G.711 mu-law (14-bit magnitudes, bias 33, 8 segments of 16 steps), decoded.

    libsndfile takes the 14-bit magnitude as ``round(|x| * 32767 / 4)``.
    """
    biased = np.minimum(np.rint(np.abs(x) * 32767 / 4).astype(int), 8158) + 33
    segment = np.floor(np.log2(biased)).astype(int) - 5
    step = (biased >> (segment + 1)) & 0xF
    return np.sign(x) * (((2 * step + 33) << segment) - 33) * 4 / 32768


def g711_alaw(x: np.ndarray) -> np.ndarray:
    """ITU-T G.711 A-law (13-bit magnitudes, 8 segments of 16 steps), decoded to 16 bits.

    libsndfile takes the magnitude in steps of 16 of the 16-bit scale:
    ``2 * round(|x| * 32767 / 16)`` in 13 bits.
    """
    magnitude = np.minimum(2 * np.rint(np.abs(x) * 32767 / 16).astype(int), 4095)
    segment = np.where(magnitude < 32, 0, np.floor(np.log2(np.maximum(magnitude, 1))) - 4)
    segment = segment.astype(int)
    step = np.where(segment < 2, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & 0xF
    level = np.where(
        segment == 0, (step << 4) + 8, ((step << 4) + 264) << np.maximum(segment - 1, 0)
    )
    return np.where(x < 0, -1, 1) * level / 32768


@pytest.fixture(scope="module")
def amplitudes() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate(
        [rng.uniform(-1, 1, 8000), rng.uniform(-0.01, 0.01, 8000), np.linspace(-1, 1, 4001)]
    )


@pytest.mark.parametrize(("name", "reference", "levels"),
                         [("mulaw", g711_mulaw, 255), ("alaw", g711_alaw, 256)])
def test_g711_is_the_standard_companding_bit_for_bit(amplitudes, name, reference, levels):
    coded = encode_decode(amplitudes, FS, name)
    np.testing.assert_array_equal(coded, reference(amplitudes))
    assert len(np.unique(coded)) == levels  # 8-bit codes (mu-law: +0 and -0 are one level)


def test_mulaw_follows_torchaudio_mu_law_companding(amplitudes, speech):
    """G.711 mu-law is the 8-segment approximation of torchaudio's mu = 255 curve: each
    sample within 1.25 of torchaudio's local quantisation steps, and the same SNR on speech
    (within 1 dB)."""
    def torchaudio_mu_law(x):
        codes = torchaudio.functional.mu_law_encoding(torch.from_numpy(x), 256)
        return torchaudio.functional.mu_law_decoding(codes, 256).numpy()

    mu = 255
    step = np.log1p(mu) / mu * (1 + mu * np.abs(amplitudes)) * 2 / mu  # dx per code
    difference = np.abs(encode_decode(amplitudes, FS, "mulaw") - torchaudio_mu_law(amplitudes))
    assert (difference <= 1.25 * step).all()
    g711 = snr_db(speech, encode_decode(speech, FS, "mulaw"))
    assert abs(g711 - snr_db(speech, torchaudio_mu_law(speech))) < 1.0


def test_alaw_follows_the_continuous_a_law(amplitudes):
    """The segments approximate ``F(x) = sign(x) (1 + ln(A|x|)) / (1 + ln A)`` (A = 87.6)
    above 1/A, linear ``A|x| / (1 + ln A)`` below: each decoded value within 1.25 of the
    continuous law's local 8-bit quantisation steps (as mu-law above)."""
    a = 87.6
    coded = encode_decode(amplitudes, FS, "alaw")
    x = np.abs(amplitudes)
    step = np.where(x < 1 / a, 1 / a, x) * (1 + np.log(a)) * 2 / 255
    assert (np.abs(coded - amplitudes) <= 1.25 * step).all()


# ---- the module ----------------------------------------------------------------------------

def test_settings_parse_and_refuse_in_one_line():
    assert CodecSetting.parse("mp3").quality == CODECS["mp3"].default_quality
    assert CodecSetting.parse("vorbis:2-4").quality == (2.0, 4.0)
    for text, message in [
        ("flac", "codec 'flac' is unknown"),
        ("gsm:13", "takes no quality"),
        ("mp3:64-32", "increasing range"),
        ("mp3:100", "no bit rate"),
        ("opus:x", "a number or low-high"),
    ]:
        with pytest.raises(ValueError, match=message):
            CodecSetting.parse(text)
    with pytest.raises(ValueError, match="non-empty list"):
        CodecAugment("mp3")
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        CodecAugment(["mulaw"])(torch.zeros(100))


def test_draws_cover_the_list_and_the_quality_range():
    augment = CodecAugment(["mp3:32-64", "gsm", "opus:10-20"], seed=0)
    draws = [augment.draw() for _ in range(300)]
    names = [codec.name for codec, _ in draws]
    assert {name: names.count(name) > 60 for name in ("mp3", "gsm", "opus")} == {
        "mp3": True, "gsm": True, "opus": True,
    }
    assert {quality for codec, quality in draws if codec.name == "mp3"} == {32, 40, 48, 56, 64}
    opus = [quality for codec, quality in draws if codec.name == "opus"]
    assert 10 <= min(opus) < 11 and 19 < max(opus) <= 20
    assert all(quality is None for codec, quality in draws if codec.name == "gsm")


def test_seeded_batches_padding_and_checkpointed_stream(speech):
    waveforms = torch.from_numpy(np.stack([speech[:8000], speech[8000:]])).float()
    lengths = torch.tensor([1.0, 0.5])
    settings = ["mp3:8-160", "vorbis", "ms_adpcm"]
    first, twin = CodecAugment(settings, seed=3), CodecAugment(settings, seed=3)
    out = first(waveforms, lengths)
    assert out.dtype == waveforms.dtype and out.shape == waveforms.shape
    torch.testing.assert_close(out, twin(waveforms, lengths), rtol=0, atol=0)
    assert out[1, 4000:].eq(0).all()
    assert not torch.allclose(CodecAugment(settings, seed=4)(waveforms, lengths), out)
    # each row is encode_decode of its valid samples with the drawn codec and quality
    replay = CodecAugment(settings, seed=3)
    for row, valid in enumerate((8000, 4000)):
        codec, quality = replay.draw()
        expected = encode_decode(speech[8000 * row:8000 * row + valid], FS, codec, quality)
        np.testing.assert_allclose(out[row, :valid].numpy(), expected, atol=1e-7)
    # the state_dict carries the generator: a restored module continues the stream
    state = first.state_dict()
    expected = first(waveforms)
    restored = CodecAugment(settings, seed=99)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored(waveforms), expected, rtol=0, atol=0)


def test_works_inside_speechbrain_augmenter(speech):
    waveforms = torch.from_numpy(np.stack([speech[:4000], speech[4000:8000]])).float()
    augmenter = Augmenter(concat_original=True, augmentations=[CodecAugment(["gsm"], seed=0)])
    out, lengths = augmenter(waveforms, torch.ones(2))
    assert out.shape == (4, 4000) and lengths.shape == (4,)
    torch.testing.assert_close(out[:2], waveforms)
    torch.testing.assert_close(out[2:], CodecAugment(["gsm"], seed=0)(waveforms))
