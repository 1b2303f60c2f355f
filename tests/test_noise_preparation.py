"""MUSAN and RIRS_NOISES (official layouts, tiny) into the CSVs SpeechBrain's AddNoise and
AddReverb read unchanged."""

import csv
from pathlib import Path

import numpy
import pytest
import soundfile
import torch
from speechbrain.augment.preparation import write_csv
from speechbrain.augment.time_domain import AddNoise, AddReverb

from speechbrain_ssdctx.data.noise import NOISE_CSV_COLUMNS, prepare_musan, prepare_rirs_noises
from speechbrain_ssdctx.data.preparation import ProtocolError

RATE = 16000
NOISE_HZ, SPEECH_HZ = 1000, 300
ECHO_DELAY, ECHO_GAIN = 40, 0.5


def tone(hz: float, seconds: float = 0.25) -> numpy.ndarray:
    return 0.3 * numpy.sin(2 * numpy.pi * hz * numpy.arange(int(seconds * RATE)) / RATE)


def echo_rir() -> numpy.ndarray:
    """A direct path at sample 0 and one echo."""
    rir = numpy.zeros(200)
    rir[0], rir[ECHO_DELAY] = 1.0, ECHO_GAIN
    return rir


def make_musan(root: Path) -> Path:
    """musan/{music,noise,speech}/<source>/*.wav with their LICENSE and ANNOTATIONS files."""
    layout = {"noise": {"free-sound": 2, "sound-bible": 1}, "music": {"fma": 2},
              "speech": {"librivox": 1}}
    for part, sources in layout.items():
        for source, count in sources.items():
            folder = root / "musan" / part / source
            folder.mkdir(parents=True)
            (folder / "LICENSE").write_text("licence text\n")
            (folder / "ANNOTATIONS").write_text("annotations\n")
            for i in range(count):
                soundfile.write(folder / f"{part}-{source}-{i:04d}.wav", tone(NOISE_HZ), RATE)
    return root / "musan"


def make_rirs_noises(root: Path) -> Path:
    """RIRS_NOISES/{simulated_rirs,real_rirs_isotropic_noises,pointsource_noises} with lists."""
    rirs = root / "RIRS_NOISES"
    lines = []
    for size in ("smallroom", "mediumroom", "largeroom"):
        room = rirs / "simulated_rirs" / size / "Room001"
        room.mkdir(parents=True)
        for i in (1, 2):
            soundfile.write(room / f"Room001-{i:05d}.wav", echo_rir(), RATE)
        lines = [f"--rir-id {size}-Room001-{i:05d} --room-id {size}-Room001 "
                 f"RIRS_NOISES/simulated_rirs/{size}/Room001/Room001-{i:05d}.wav" for i in (1, 2)]
        (rirs / "simulated_rirs" / size / "rir_list").write_text("\n".join(lines) + "\n")
    real = rirs / "real_rirs_isotropic_noises"
    real.mkdir()
    soundfile.write(real / "air_type1_air_binaural_stairway_1_1_1.wav", echo_rir(), RATE)
    soundfile.write(real / "RVB2014_type1_rir_largeroom1_near_angla.wav",
                    numpy.stack([echo_rir()] * 8, axis=1), RATE)  # 8 channels: left out
    soundfile.write(real / "RVB2014_type1_noise_largeroom1_1.wav", tone(NOISE_HZ), RATE)
    (real / "rir_list").write_text(
        "--rir-id air_type1_air_binaural_stairway_1_1_1 --room-id air_stairway "
        "RIRS_NOISES/real_rirs_isotropic_noises/air_type1_air_binaural_stairway_1_1_1.wav\n"
        "--rir-id RVB2014_type1_rir_largeroom1_near_angla --room-id RVB2014_largeroom1 "
        "RIRS_NOISES/real_rirs_isotropic_noises/RVB2014_type1_rir_largeroom1_near_angla.wav\n")
    (real / "noise_list").write_text(
        "--noise-id 0001 --noise-type isotropic --bg-fg-type background --room-linkage "
        "RVB2014_largeroom1 RIRS_NOISES/real_rirs_isotropic_noises/"
        "RVB2014_type1_noise_largeroom1_1.wav\n")
    (rirs / "pointsource_noises").mkdir()
    soundfile.write(rirs / "pointsource_noises" / "noise1.wav", tone(NOISE_HZ), RATE)
    (rirs / "pointsource_noises" / "noise_list").write_text(
        "--noise-id noise1 --noise-type point-source --bg-fg-type foreground "
        "RIRS_NOISES/pointsource_noises/noise1.wav\n")
    return rirs


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_musan_csvs_match_speechbrains_own_preparation(tmp_path):
    musan = make_musan(tmp_path / "data")
    outputs = prepare_musan(musan, tmp_path / "csv")
    assert sorted(outputs) == ["musan_music", "musan_noise", "musan_speech"]
    noise = read_rows(outputs["musan_noise"])
    assert [row["ID"] for row in noise] == [
        "noise-free-sound-0000", "noise-free-sound-0001", "noise-sound-bible-0000"]
    assert len(read_rows(outputs["musan_music"])) == 2
    assert len(read_rows(outputs["musan_speech"])) == 1
    # SpeechBrain's own writer, on the same files: same header, durations, paths, formats.
    files = [row["wav"] for row in noise]
    write_csv(files, tmp_path / "speechbrain.csv")
    theirs = read_rows(tmp_path / "speechbrain.csv")
    assert outputs["musan_noise"].read_text().splitlines()[0] == ",".join(NOISE_CSV_COLUMNS)
    assert (tmp_path / "speechbrain.csv").read_text().splitlines()[0] == ",".join(
        NOISE_CSV_COLUMNS)
    for mine, sb_row in zip(noise, theirs, strict=True):
        assert float(mine["duration"]) == pytest.approx(float(sb_row["duration"])) == 0.25
        assert (mine["wav"], mine["wav_format"]) == (sb_row["wav"], sb_row["wav_format"])


def test_add_noise_reads_the_musan_csv_unchanged(tmp_path):
    csv_file = prepare_musan(make_musan(tmp_path / "data"), tmp_path / "csv")["musan_noise"]
    torch.manual_seed(0)
    add_noise = AddNoise(csv_file=str(csv_file), snr_low=0, snr_high=0)
    clean = torch.tensor(numpy.stack([tone(SPEECH_HZ, 0.2)] * 2), dtype=torch.float32)
    noisy = add_noise(clean, torch.ones(2))
    added = (noisy - clean).numpy()
    assert numpy.abs(added).max() > 0.01
    for row in added:  # what was added is the noise files' 1 kHz tone, not the speech's
        spectrum = numpy.abs(numpy.fft.rfft(row))
        assert numpy.argmax(spectrum) * RATE / len(row) == pytest.approx(NOISE_HZ, abs=10)


def test_rirs_noises_csvs(tmp_path):
    rirs = make_rirs_noises(tmp_path / "data")
    outputs = prepare_rirs_noises(rirs, tmp_path / "csv")
    simulated = read_rows(outputs["rirs_simulated"])
    # Kaldi's rir_list ids, from the layout alone.
    listed = [line.split()[1] for size in ("largeroom", "mediumroom", "smallroom")
              for line in (rirs / "simulated_rirs" / size / "rir_list").read_text().splitlines()]
    assert [row["ID"] for row in simulated] == listed
    assert [row["ID"] for row in read_rows(outputs["rirs_real"])] == [
        "air_type1_air_binaural_stairway_1_1_1"]  # the 8-channel RIR is left out
    assert [row["ID"] for row in read_rows(outputs["rirs_isotropic_noises"])] == ["0001"]
    assert [row["ID"] for row in read_rows(outputs["rirs_pointsource_noises"])] == ["noise1"]
    assert float(simulated[0]["duration"]) == pytest.approx(200 / RATE)


def test_add_reverb_reads_the_rir_csv_unchanged(tmp_path):
    csv_file = prepare_rirs_noises(make_rirs_noises(tmp_path / "data"),
                                   tmp_path / "csv")["rirs_simulated"]
    clean = torch.tensor(tone(SPEECH_HZ, 0.2)[None], dtype=torch.float32)
    reverberant = AddReverb(csv_file=str(csv_file))(clean)[0].numpy()
    # SpeechBrain convolves through the FFT (circularly), aligned on the direct path.
    signal = clean[0].numpy().astype(numpy.float64)
    expected = signal + ECHO_GAIN * numpy.roll(signal, ECHO_DELAY)
    # AddReverb rescales the output: it is the echo's convolution up to a factor.
    factor = numpy.dot(reverberant, expected) / numpy.dot(expected, expected)
    assert numpy.allclose(reverberant, factor * expected, atol=1e-4)
    assert not numpy.allclose(reverberant, factor * clean[0].numpy(), atol=1e-2)


def test_a_malformed_rir_list_is_one_error(tmp_path):
    rirs = make_rirs_noises(tmp_path / "data")
    (rirs / "real_rirs_isotropic_noises" / "rir_list").write_text("just-a-file.wav\n")
    with pytest.raises(ProtocolError, match="rir_list, line 1"):
        prepare_rirs_noises(rirs, tmp_path / "csv")
