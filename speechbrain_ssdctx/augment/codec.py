"""Codec augmentation: each utterance encoded and decoded in memory by a codec drawn from a list.

Every codec is one that libsndfile (through ``soundfile``) writes and reads, so no new
dependency is needed: MP3 (LAME / mpg123), Ogg Vorbis, Ogg Opus, GSM 6.10, G.721 ADPCM,
IMA and Microsoft ADPCM, G.711 mu-law and A-law; ``telephone`` is the telephony channel
(8 kHz, 300-3,400 Hz band) without a codec. :data:`CODECS` describes them (one
:class:`Codec` each), :class:`CodecSetting` is one codec with its quality range
(``"mp3:32-128"``), :func:`encode_decode` runs one utterance through one codec at one
quality, and :class:`CodecAugment` draws a setting and a quality per utterance.

The output of :func:`encode_decode` has the input's length and is aligned with it: the
narrow-band codecs work at 8 kHz between two band-limited resamplings
(:func:`~speechbrain_ssdctx.data.resampling.resampler`, linear phase), block padding is
cut, and MP3's delay is removed (see :data:`MP3_DELAY`). ``tests/test_codec.py`` checks
each codec's cross-correlation peak at lag 0 on speech.

Authors
 * speechbrain-ssdctx contributors 2026
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.signal
import soundfile
import torch

from speechbrain_ssdctx.data.resampling import resampler
from speechbrain_ssdctx.utils.reproducibility import (
    generator_state,
    rank_generator,
    restore_generator,
)

__all__ = [
    "CODECS",
    "MP3_DELAY",
    "Codec",
    "CodecAugment",
    "CodecSetting",
    "encode_decode",
    "mp3_sample_rate",
    "telephone_band",
]

#: Samples by which libsndfile's MP3 output lags its input when the file carries no LAME
#: gapless tag: LAME's encoder delay (576) plus the MP3 decoder's delay (529). LAME leaves
#: the tag out at low bit rates (its frame is too small), and then mpg123 cannot trim
#: the delay; with the tag, the decoded file has the input's length and no delay.
MP3_DELAY = 576 + 529

#: MP3 bit rates (kbps) of each MPEG version, and the sample rates (Hz) of each version.
_MP3_VERSIONS = (
    ((32000, 44100, 48000), (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)),
    ((16000, 22050, 24000), (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)),
    ((8000, 11025, 12000), (8, 16, 24, 32, 40, 48, 56, 64)),
)
MP3_BITRATES = tuple(sorted({rate for _, rates in _MP3_VERSIONS for rate in rates}))

#: Opus bit rates (kbps) of libsndfile's compression level 0 and 1 (linear between).
_OPUS_KBPS = (256.0, 6.0)
#: Sample rates the Opus encoder takes; others are encoded at 48 kHz.
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
#: The telephone channel: rate, pass band (Hz) and Butterworth order (applied forwards and
#: backwards, so zero phase).
_TELEPHONE = (8000, (300.0, 3400.0), 4)


def mp3_sample_rate(bitrate: float, sample_rate: int) -> int:
    """The MPEG sample rate an MP3 of ``bitrate`` kbps is encoded at, for ``sample_rate`` audio.

    The input's own rate when its MPEG version has that bit rate (16 kHz: MPEG-2,
    8-160 kbps), otherwise the nearest MPEG rate whose version has it (16 kHz at
    192-320 kbps: 32 kHz, MPEG-1).

    Example
    -------
    >>> mp3_sample_rate(64, 16000), mp3_sample_rate(320, 16000), mp3_sample_rate(8, 48000)
    (16000, 32000, 24000)
    """
    candidates = [
        rate
        for rates, bitrates in _MP3_VERSIONS
        if round(bitrate) in bitrates
        for rate in rates
    ]
    if not candidates:
        raise ValueError(f"mp3: {bitrate} kbps is no MPEG layer III bit rate {MP3_BITRATES}")
    return min(candidates, key=lambda rate: (abs(np.log(rate / sample_rate)), -rate))


def _mp3_options(bitrate: float, sample_rate: int) -> dict:
    """libsndfile's constant bit rate: ``max - level * (max - min)`` kbps for the version."""
    (rates, bitrates), = [v for v in _MP3_VERSIONS if sample_rate in v[0]]
    high, low = bitrates[-1], bitrates[0]
    level = min(max((high - round(bitrate) - 0.25) / (high - low), 0.0), 1.0)
    return {"bitrate_mode": "CONSTANT", "compression_level": level}


def _opus_options(kbps: float, sample_rate: int) -> dict:
    del sample_rate
    high, low = _OPUS_KBPS
    return {"compression_level": min(max((high - kbps) / (high - low), 0.0), 1.0)}


def _vorbis_options(quality: float, sample_rate: int) -> dict:
    """Vorbis quality ``q`` (``oggenc -q``, 0-10) is libsndfile's ``1 - compression``."""
    del sample_rate
    return {"compression_level": min(max(1.0 - quality / 10.0, 0.0), 1.0)}


@dataclass(frozen=True)
class Codec:
    """One codec as libsndfile writes it.

    Arguments
    ---------
    name : str
        The name in settings (``"mp3"``).
    format, subtype : str or None
        soundfile's container format and subtype; ``None`` for ``telephone`` (no codec).
    sample_rate : int or None
        The rate it encodes at (narrow-band codecs: 8000), ``None``: the input's rate.
    quality : str or None
        What its quality number means (``"kbps"``, ``"q"``); ``None``: it has none.
    quality_bounds : tuple of float or None
        The qualities it takes.
    default_quality : tuple of float or None
        The quality range drawn when a setting gives none.
    options : callable or None
        ``options(quality, encode_rate) -> dict`` of ``soundfile.write`` keywords.
    levels : tuple of float or None
        The discrete qualities it takes (MP3 bit rates); ``None``: any in the bounds.

    Example
    -------
    >>> CODECS["gsm"].sample_rate, CODECS["mp3"].default_quality
    (8000, (32.0, 128.0))
    """

    name: str
    format: str | None
    subtype: str | None
    sample_rate: int | None = None
    quality: str | None = None
    quality_bounds: tuple[float, float] | None = None
    default_quality: tuple[float, float] | None = None
    options: Callable[[float, int], dict] | None = None
    levels: tuple[float, ...] | None = None

    def encode_rate(self, quality: float | None, sample_rate: int) -> int:
        """The rate the codec encodes ``sample_rate`` audio at, for ``quality``."""
        if self.name == "mp3":
            return mp3_sample_rate(quality, sample_rate)
        if self.name == "opus" and sample_rate not in _OPUS_RATES:
            return 48000
        return self.sample_rate or sample_rate


#: The codecs :class:`CodecAugment` knows, by name.
CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec("mp3", "MP3", "MPEG_LAYER_III", None, "kbps", (8.0, 320.0), (32.0, 128.0),
              _mp3_options, MP3_BITRATES),
        Codec("vorbis", "OGG", "VORBIS", None, "q", (0.0, 10.0), (0.0, 6.0), _vorbis_options),
        Codec("opus", "OGG", "OPUS", None, "kbps", (6.0, 256.0), (12.0, 64.0), _opus_options),
        Codec("gsm", "WAV", "GSM610", 8000),
        Codec("g721", "WAV", "G721_32", 8000),
        Codec("ima_adpcm", "WAV", "IMA_ADPCM"),
        Codec("ms_adpcm", "WAV", "MS_ADPCM"),
        Codec("mulaw", "WAV", "ULAW"),
        Codec("alaw", "WAV", "ALAW"),
        Codec("telephone", None, None, _TELEPHONE[0]),
    )
}


@dataclass(frozen=True)
class CodecSetting:
    """A codec and the range its quality is drawn from.

    Written ``name``, ``name:quality`` or ``name:low-high`` (:meth:`parse`); a codec
    without a quality takes only its name.

    Arguments
    ---------
    codec : Codec
        The codec.
    quality : tuple of float or None
        ``(low, high)``, within the codec's bounds; ``None`` for codecs without quality.

    Example
    -------
    >>> CodecSetting.parse("mp3:32-64").quality, CodecSetting.parse("opus").quality
    ((32.0, 64.0), (12.0, 64.0))
    >>> str(CodecSetting.parse("mp3:64")), str(CodecSetting.parse("gsm"))
    ('mp3:64', 'gsm')
    """

    codec: Codec
    quality: tuple[float, float] | None = None

    @classmethod
    def parse(cls, text: str) -> CodecSetting:
        """Reads ``name[:quality | :low-high]``; unknown names and bad ranges are one line."""
        name, _, quality = text.strip().partition(":")
        if name not in CODECS:
            raise ValueError(f"codec {name!r} is unknown; the codecs are {', '.join(CODECS)}")
        codec = CODECS[name]
        if not quality:
            return cls(codec, codec.default_quality)
        if codec.quality is None:
            raise ValueError(f"codec {name!r} takes no quality, got {text!r}")
        try:
            bounds = tuple(float(part) for part in quality.split("-", 1))
        except ValueError:
            raise ValueError(
                f"codec quality must be a number or low-high ({codec.quality}), got {text!r}"
            ) from None
        low, high = bounds[0], bounds[-1]
        allowed_low, allowed_high = codec.quality_bounds
        if not allowed_low <= low <= high <= allowed_high:
            raise ValueError(
                f"codec {name!r}: quality must be an increasing range in "
                f"[{allowed_low:g}, {allowed_high:g}] {codec.quality}, got {quality!r}"
            )
        if codec.levels is not None and not _levels_in(codec.levels, (low, high)):
            raise ValueError(f"codec {name!r}: no bit rate of {codec.levels} in {quality!r}")
        return cls(codec, (low, high))

    def __str__(self) -> str:
        if self.quality is None:
            return self.codec.name
        low, high = self.quality
        return f"{self.codec.name}:{low:g}" + ("" if low == high else f"-{high:g}")


def _levels_in(levels: Sequence[float], bounds: tuple[float, float]) -> tuple[float, ...]:
    return tuple(level for level in levels if bounds[0] <= level <= bounds[1])


def telephone_band(signal: np.ndarray, sample_rate: int = 8000) -> np.ndarray:
    """Zero-phase 300-3,400 Hz Butterworth band-pass (order 4, run forwards and backwards).

    Example
    -------
    >>> tone = np.sin(2 * np.pi * 100 * np.arange(8000) / 8000)
    >>> bool(np.abs(telephone_band(tone)[1000:-1000]).max() < 0.2)
    True
    """
    _, band, order = _TELEPHONE
    sos = scipy.signal.butter(order, band, btype="bandpass", fs=sample_rate, output="sos")
    return scipy.signal.sosfiltfilt(sos, signal)


def _fit(signal: np.ndarray, length: int) -> np.ndarray:
    """Cuts or zero-pads the end to ``length`` samples."""
    if len(signal) >= length:
        return signal[:length]
    return np.pad(signal, (0, length - len(signal)))


def _resample(signal: np.ndarray, orig: int, new: int) -> np.ndarray:
    if orig == new:
        return signal
    return resampler(orig, new)(torch.from_numpy(np.ascontiguousarray(signal))).numpy()


def _round_trip(signal: np.ndarray, rate: int, codec: Codec, quality: float | None) -> np.ndarray:
    """Writes ``signal`` with the codec into memory and reads it back (float64, delay removed)."""
    if codec.format is None:
        return telephone_band(signal, rate)
    options = codec.options(quality, rate) if codec.options else {}
    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.clip(signal, -1.0, 1.0), rate, format=codec.format, subtype=codec.subtype,
        **options,
    )
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float64")
    if codec.name == "mp3" and len(decoded) != len(signal):
        decoded = decoded[MP3_DELAY:]
    return _fit(decoded, len(signal))


def encode_decode(
    signal: np.ndarray, sample_rate: int, codec: str | Codec, quality: float | None = None
) -> np.ndarray:
    """One utterance encoded and decoded in memory, aligned with it and of its length.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` samples, clipped to [-1, 1] on the way into the codec.
    sample_rate : int
        Its rate, in Hz (resampled to the codec's and back when they differ).
    codec : str or Codec
        A name of :data:`CODECS` or a :class:`Codec`.
    quality : float or None
        The codec's quality (kbps for MP3 and Opus, ``q`` 0-10 for Vorbis); ``None``
        for codecs without one, or the middle of the codec's default range.

    Returns
    -------
    numpy.ndarray
        ``[time]`` float64.

    Example
    -------
    >>> speech = 0.1 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> out = encode_decode(speech, 16000, "gsm")
    >>> out.shape, bool(np.corrcoef(out, speech)[0, 1] > 0.9)
    ((16000,), True)
    """
    codec = CODECS[codec] if isinstance(codec, str) else codec
    if quality is None and codec.default_quality is not None:
        quality = float(np.mean(codec.default_quality))
        if codec.levels is not None:
            quality = min(codec.levels, key=lambda level: abs(level - quality))
    rate = codec.encode_rate(quality, sample_rate)
    coded = _round_trip(_resample(signal, sample_rate, rate), rate, codec, quality)
    return _fit(_resample(coded, rate, sample_rate), len(signal))


class CodecAugment(torch.nn.Module):
    """Codec augmentation: each utterance through a codec drawn from a list (on CPU).

    Per utterance, a setting is drawn uniformly from ``codecs`` and a quality uniformly
    from its range (among the standard bit rates for MP3), and the utterance's valid
    samples go through :func:`encode_decode`; padding stays zero. The output has the
    input's shape and stays aligned with it. The codecs run in libsndfile on the CPU
    (inputs on another device are copied), so the module belongs in the data loader's
    workers; ``benchmarks/bench_codecs.py`` measures utterances per second per worker.

    All draws come from this module's ``torch.Generator``, in its ``state_dict``
    (``get_extra_state``) and found by ``DetectorBrain``'s ``RNGState`` as RawBoost's, so
    a resumed run continues the same stream.

    Arguments
    ---------
    codecs : sequence of str or CodecSetting
        Settings (``"mp3"``, ``"mp3:64"``, ``"opus:12-32"``, ``"telephone"``; see
        :class:`CodecSetting`); names without a quality use the codec's default range.
    sample_rate : int
        The waveforms' rate, in Hz.
    seed : int or None
        Seed of the module's generator (plus the data-parallel rank); ``None`` uses
        ``torch.initial_seed()``.

    Example
    -------
    >>> augment = CodecAugment(codecs=["mp3"], seed=0)
    >>> waveforms = 0.1 * torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    >>> augment(waveforms).shape
    torch.Size([2, 8000])

    In SpeechBrain's ``Augmenter``:

    >>> from speechbrain.augment.augmenter import Augmenter
    >>> augmenter = Augmenter(augmentations=[CodecAugment(["gsm", "mulaw"], seed=0)])
    >>> augmenter(waveforms, torch.ones(2))[0].shape
    torch.Size([2, 8000])
    """

    def __init__(
        self,
        codecs: Sequence[str | CodecSetting] = ("mp3", "vorbis", "opus", "gsm", "mulaw"),
        sample_rate: int = 16000,
        seed: int | None = None,
    ):
        super().__init__()
        if isinstance(codecs, str) or not codecs:
            raise ValueError(f"CodecAugment: codecs must be a non-empty list, got {codecs!r}")
        self.settings = tuple(
            setting if isinstance(setting, CodecSetting) else CodecSetting.parse(setting)
            for setting in codecs
        )
        self.sample_rate = sample_rate
        self.generator = rank_generator(seed)

    def draw(self) -> tuple[Codec, float | None]:
        """Draws a codec and its quality from the module's generator.

        Example
        -------
        >>> CodecAugment(["mp3:64"], seed=0).draw()[1]
        64
        """
        index = int(torch.randint(len(self.settings), (1,), generator=self.generator))
        setting = self.settings[index]
        unit = float(torch.rand(1, generator=self.generator, dtype=torch.float64))
        if setting.quality is None:
            return setting.codec, None
        low, high = setting.quality
        if setting.codec.levels is not None:
            levels = _levels_in(setting.codec.levels, setting.quality)
            return setting.codec, levels[min(int(unit * len(levels)), len(levels) - 1)]
        return setting.codec, low + (high - low) * unit

    def forward(
        self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encodes and decodes every utterance of a batch (on its valid samples).

        Arguments
        ---------
        waveforms : torch.Tensor
            ``[batch, time]`` waveforms.
        lengths : torch.Tensor or None
            ``[batch]`` relative lengths (SpeechBrain convention); ``None``: all full.

        Returns
        -------
        torch.Tensor
            ``[batch, time]``, the input's dtype and device; padding is zero.
        """
        if waveforms.dim() != 2:
            raise ValueError(
                f"CodecAugment: waveforms must be [batch, time], got {tuple(waveforms.shape)}"
            )
        batch, time = waveforms.shape
        if lengths is None:
            lengths = torch.ones(batch)
        signals = waveforms.detach().double().cpu().numpy()
        coded = np.zeros_like(signals)
        for row, num_samples in enumerate(torch.round(lengths * time).long().tolist()):
            codec, quality = self.draw()
            if num_samples > 0:
                coded[row, :num_samples] = encode_decode(
                    signals[row, :num_samples], self.sample_rate, codec, quality
                )
        return torch.from_numpy(coded).to(device=waveforms.device, dtype=waveforms.dtype)

    def extra_repr(self) -> str:
        codecs = [str(setting) for setting in self.settings]
        return f"codecs={codecs}, sample_rate={self.sample_rate}"

    def get_extra_state(self) -> dict:
        """The random generator's state and the rank it belongs to (for checkpoints)."""
        return generator_state(self.generator)

    def set_extra_state(self, state: dict) -> None:
        """Restores the generator (another rank reseeds from it: :func:`restore_generator`)."""
        restore_generator(self.generator, state)
