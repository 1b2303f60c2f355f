"""Band-sensitivity map: which frequencies does a detector rely on?

For a detector and a labelled set of utterances, every band of a grid is (a) kept alone,
with the InF masking filter at that fixed band (the masked view of the paper's training),
and (b) removed, by subtracting that band-passed signal (the complementary band-stop:
the filter is linear-phase and aligned, so ``x - h * x`` keeps everything else). For
each band the map gives the EER of the modified utterances and the mean shift of their
scores from the clean ones. A detector that depends on one band loses its EER when that
band is removed and keeps it when only that band is kept; InF training, which asks for
the same decision on every 2 kHz band, should flatten the map.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.method.masking import BandPassMasking

__all__ = ["BandResult", "BandSensitivity", "band_lows", "band_sensitivity"]


def band_lows(num_bands: int = 7, low_min: float = 160.0, low_max: float = 5840.0) -> list[float]:
    """Lower edges of ``num_bands`` evenly spaced bands over the InF range (whole Hz).

    Example
    -------
    >>> band_lows(4)
    [160.0, 2053.0, 3947.0, 5840.0]
    """
    if num_bands < 1:
        raise ValueError(f"num_bands must be >= 1, got {num_bands}")
    return [float(round(low)) for low in np.linspace(low_min, low_max, num_bands)]


@dataclass(frozen=True)
class BandResult:
    """The effect of keeping only, or removing, one band.

    Arguments
    ---------
    low, high : float
        The pass band of the masking filter, in Hz.
    eer_kept, eer_removed : float
        EER (%) when only the band is kept / when the band is removed.
    shift_kept, shift_removed : float
        Mean score change (modified minus clean) over all utterances.
    shift_kept_bonafide, shift_kept_spoof, shift_removed_bonafide, shift_removed_spoof : float
        The same, over bona fide or spoofed utterances only.
    """

    low: float
    high: float
    eer_kept: float
    eer_removed: float
    shift_kept: float
    shift_removed: float
    shift_kept_bonafide: float
    shift_kept_spoof: float
    shift_removed_bonafide: float
    shift_removed_spoof: float


@dataclass(frozen=True)
class BandSensitivity:
    """A band-sensitivity map: the clean EER and one ``BandResult`` per band.

    Arguments
    ---------
    clean_eer : float
        EER (%) of the unmodified utterances.
    bands : list of BandResult
        One entry per band, in grid order.
    """

    clean_eer: float
    bands: list[BandResult]

    def to_dict(self) -> dict:
        """JSON-ready: ``clean_eer`` and ``bands`` (a list of dicts)."""
        return {"clean_eer": self.clean_eer, "bands": [asdict(band) for band in self.bands]}

    def markdown(self) -> str:
        """The map as a Markdown table (one row per band, the clean EER above it)."""
        lines = [
            f"Clean EER: {self.clean_eer:.2f} %",
            "",
            "| band (Hz) | EER, band kept (%) | mean shift, band kept | EER, band removed (%) "
            "| mean shift, band removed |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {b.low:.0f}-{b.high:.0f} | {b.eer_kept:.2f} | {b.shift_kept:+.3f} | "
            f"{b.eer_removed:.2f} | {b.shift_removed:+.3f} |"
            for b in self.bands
        ]
        return "\n".join(lines)


def band_sensitivity(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    waveforms: Sequence[torch.Tensor],
    is_bonafide: Sequence[bool],
    lows: Sequence[float] | None = None,
    sample_rate: int = 16000,
    band_width: float = 2000.0,
    progress: bool = False,
) -> BandSensitivity:
    """Computes the band-sensitivity map of a detector on labelled utterances.

    Arguments
    ---------
    score_fn : callable
        ``[views, time]`` float32 waveforms to ``[views]`` scores (higher = more bona
        fide), e.g. ``SpoofDetector.score_batch``.
    waveforms : sequence of torch.Tensor
        One 1-D waveform per utterance (already windowed as the detector expects).
    is_bonafide : sequence of bool
        The label of each utterance (both classes needed).
    lows : sequence of float, optional
        Lower pass edges of the bands, rounded to whole Hz (default: ``band_lows()``,
        seven bands over the InF range 160-7840 Hz).
    sample_rate : int
        Sample rate of the waveforms.
    band_width : float
        Width of every band (the InF default: 2 kHz).
    progress : bool
        Show a progress bar over the utterances.

    Returns
    -------
    BandSensitivity

    Example
    -------
    >>> def energy_above_4k(wavs):  # a toy detector listening to 4-8 kHz only
    ...     spectrum = torch.fft.rfft(wavs).abs() ** 2
    ...     return torch.log(spectrum[:, spectrum.shape[1] // 2 :].mean(dim=1))
    >>> noise = torch.randn(4, 4000, generator=torch.Generator().manual_seed(0))
    >>> wavs = [noise[0], noise[1] * 0.1, noise[2], noise[3] * 0.1]
    >>> result = band_sensitivity(energy_above_4k, wavs, [True, False, True, False],
    ...                           lows=[160.0, 5840.0])
    >>> result.clean_eer, [band.eer_kept for band in result.bands]
    (0.0, [0.0, 0.0])
    """
    labels = np.asarray(is_bonafide, dtype=bool)
    if labels.size != len(waveforms):
        raise ValueError(f"{labels.size} labels for {len(waveforms)} waveforms.")
    if labels.all() or not labels.any():
        raise ValueError("band_sensitivity needs bona fide and spoofed utterances.")
    lows = [float(round(low)) for low in (band_lows() if lows is None else lows)]
    # A 1 Hz grid from the lowest band: each band's filter is designed once, then cached.
    masking = BandPassMasking(
        sample_rate=sample_rate, band_width=band_width, low_min=min(lows), low_max=max(lows),
        grid_step=1.0,
    )
    low_freqs = torch.tensor(lows, dtype=torch.float64)
    clean, kept, removed = [], [], []
    for wav in tqdm(waveforms, desc="band map", unit="utt", disable=not progress):
        wav = wav.float().reshape(1, -1)
        with torch.no_grad():
            band = masking(wav.expand(len(lows), -1).contiguous(), low_freqs=low_freqs)[0]
            scores = score_fn(torch.cat([wav, band, wav - band])).reshape(-1).float()
        clean.append(float(scores[0]))
        kept.append(scores[1 : 1 + len(lows)].numpy())
        removed.append(scores[1 + len(lows) :].numpy())
    clean, kept, removed = np.asarray(clean), np.stack(kept), np.stack(removed)
    bands = []
    for index, low in enumerate(lows):
        shift_k, shift_r = kept[:, index] - clean, removed[:, index] - clean
        bands.append(BandResult(
            low=low, high=low + band_width,
            eer_kept=100 * compute_eer(kept[labels, index], kept[~labels, index])[0],
            eer_removed=100 * compute_eer(removed[labels, index], removed[~labels, index])[0],
            shift_kept=float(shift_k.mean()), shift_removed=float(shift_r.mean()),
            shift_kept_bonafide=float(shift_k[labels].mean()),
            shift_kept_spoof=float(shift_k[~labels].mean()),
            shift_removed_bonafide=float(shift_r[labels].mean()),
            shift_removed_spoof=float(shift_r[~labels].mean()),
        ))
    clean_eer = 100 * compute_eer(clean[labels], clean[~labels])[0]
    return BandSensitivity(clean_eer=clean_eer, bands=bands)
