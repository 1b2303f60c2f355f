"""The band-sensitivity map on a synthetic detector that only listens to one band."""

import json
import math

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.cli.plot import main as plot_main
from speechbrain_ssdctx.evaluation.band_map import band_lows, band_sensitivity
from speechbrain_ssdctx.evaluation.plots import plot_band_map

SAMPLE_RATE = 16000
TONE = 3500.0  # the only frequency the detector hears


class ToneDetector:
    """Hears only 3.4-3.6 kHz: the log of the power there plus its own sensor noise.

    Bona fide utterances carry a 3.5 kHz tone (band power about 4e4), spoofed ones only
    weak noise (about 80); the detector's noise floor (uniform in 100-1000, drawn from a
    seeded generator) hides what a 40 dB stop band leaves of the tone, as a real
    detector's finite sensitivity would. Any gain applied alike to both classes would
    otherwise keep their order, and so their EER.
    """

    def __init__(self):
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, wavs: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(wavs).abs() ** 2
        freqs = torch.fft.rfftfreq(wavs.shape[-1], 1 / SAMPLE_RATE)
        band = spectrum[:, (freqs > 3400) & (freqs < 3600)].mean(dim=1)
        floor = 100 + 900 * torch.rand(wavs.shape[0], generator=self.generator)
        return torch.log(band + floor)


def utterances(count=16, seconds=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wavs, labels = [], []
    for i in range(count):
        noise = 0.1 * torch.randn(time.numel(), generator=generator)
        bonafide = i % 2 == 0
        tone = 0.5 * torch.sin(2 * math.pi * TONE * time) if bonafide else 0
        wavs.append(noise + tone)
        labels.append(bonafide)
    return wavs, labels


@pytest.mark.slow
def test_one_band_detector_map():
    wavs, labels = utterances()
    lows = band_lows(7)  # 160, 1107, 2053, 3000, 3947, 4893, 5840
    result = band_sensitivity(ToneDetector(), wavs, labels, lows=lows)
    assert result.clean_eer == 0.0
    for band in result.bands:
        # The tone survives keeping a band when it lies inside the pass band (with the
        # 160 Hz transitions outside), and removing a band when it lies outside the band.
        inside = band.low < TONE < band.high
        outside = TONE < band.low - 160 or TONE > band.high + 160
        if inside:
            assert band.eer_kept == 0.0 and band.eer_removed >= 25.0, band
            assert band.shift_removed_bonafide < -2 < band.shift_kept_bonafide, band
        elif outside:
            assert band.eer_kept >= 25.0 and band.eer_removed == 0.0, band
            assert band.shift_kept_bonafide < -2 < band.shift_removed_bonafide, band
    assert [b.low for b in result.bands] == lows
    assert sum(b.low < TONE < b.high for b in result.bands) == 2  # 2053-4053 and 3000-5000
    last = result.bands[-1]
    mean_shift = np.mean([last.shift_kept_bonafide, last.shift_kept_spoof])
    assert last.shift_kept == pytest.approx(mean_shift)  # balanced classes


@pytest.mark.slow
def test_map_table_plot_and_cli(tmp_path, capsys):
    wavs, labels = utterances(count=4)
    result = band_sensitivity(ToneDetector(), wavs, labels, lows=[1000, 3000])
    table = result.markdown().splitlines()
    assert table[0] == "Clean EER: 0.00 %" and table[4].startswith("| 1000-3000 |")
    fig = plot_band_map(result)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "clean (0.0%)", "only this band kept", "this band removed"]
    # The command line with the bundled AASIST-L on two files, one band.
    folder = tmp_path / "audio"
    folder.mkdir()
    protocol = tmp_path / "protocol.txt"
    lines = []
    for i, (wav, label) in enumerate(zip(*utterances(count=2, seconds=0.3), strict=True)):
        soundfile.write(folder / f"utt{i}.wav", wav.numpy(), SAMPLE_RATE)
        lines.append(f"SPK utt{i} - {'-' if label else 'A01'} {'bonafide' if label else 'spoof'}")
    protocol.write_text("\n".join(lines) + "\n")
    code = plot_main(["bands", str(folder), "--model", "aasist-l", "--protocol", str(protocol),
                      "--out", str(tmp_path / "bands.png"), "--lows", "3000",
                      "--json", str(tmp_path / "bands.json")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "bands.png").stat().st_size > 0
    saved = json.loads((tmp_path / "bands.json").read_text())
    assert [band["low"] for band in saved["bands"]] == [3000.0]
    capsys.readouterr()
    assert plot_main(["bands", str(folder), "--model", "aasist-l", "--protocol", str(protocol),
                      "--out", str(tmp_path / "x.png"), "--lows", "7000"]) == 1
    assert "low_max + band_width <= 8000.0 Hz" in capsys.readouterr().err
