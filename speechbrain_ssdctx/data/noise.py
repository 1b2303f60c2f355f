"""Noise and room impulse responses for SpeechBrain's ``AddNoise`` and ``AddReverb``.

The two usual collections, in their official layouts, become the CSV files those modules
read (``speechbrain.augment.time_domain``: an ``ExtendedCSVDataset`` with the columns
``ID,duration,wav,wav_format,wav_opts``, as ``speechbrain.augment.preparation`` writes
them), unchanged:

- MUSAN (OpenSLR 17): ``musan/{music,noise,speech}/<source>/*.wav`` (e.g.
  ``noise/free-sound/noise-free-sound-0000.wav``); one CSV per part,
  ``musan_noise.csv``, ``musan_music.csv``, ``musan_speech.csv``.
- RIRS_NOISES (OpenSLR 28): ``RIRS_NOISES/simulated_rirs/{small,medium,large}room/
  Room001/Room001-00001.wav``, ``real_rirs_isotropic_noises/*.wav`` (its ``rir_list``
  names the impulse responses, its ``noise_list`` the isotropic noises) and
  ``pointsource_noises/*.wav``; ``rirs_simulated.csv``, ``rirs_real.csv`` (for
  ``AddReverb``), ``rirs_isotropic_noises.csv``, ``rirs_pointsource_noises.csv`` (for
  ``AddNoise``).

Unlike ``speechbrain.augment.preparation``, nothing is rewritten: a file with more than
one channel (some real RIRs) is left out and counted in the log, since ``AddReverb`` and
``AddNoise`` expect one channel and the CSV cannot select one.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import soundfile

from speechbrain_ssdctx.data.preparation import PreparationRecord, ProtocolError
from speechbrain_ssdctx.utils.atomic import atomic_open
from speechbrain_ssdctx.utils.textio import read_lines

logger = logging.getLogger(__name__)

__all__ = ["NOISE_CSV_COLUMNS", "MUSAN_PARTS", "prepare_musan", "prepare_rirs_noises",
           "write_noise_csv"]

#: The header of the CSV files ``AddNoise`` and ``AddReverb`` read.
NOISE_CSV_COLUMNS = ("ID", "duration", "wav", "wav_format", "wav_opts")
#: The parts of MUSAN, one folder each.
MUSAN_PARTS = ("noise", "music", "speech")


def write_noise_csv(files: Iterable[tuple[str, Path]], csv_path: Path) -> int:
    """Writes the ``AddNoise`` / ``AddReverb`` CSV of ``(ID, audio file)`` pairs.

    A file with more than one channel is left out (logged). Returns the rows written.

    Example
    -------
    >>> import numpy, soundfile
    >>> folder = getfixture("tmp_path")
    >>> soundfile.write(folder / "hum.wav", numpy.zeros(8000), 16000)
    >>> write_noise_csv([("hum", folder / "hum.wav")], folder / "noise.csv")
    1
    >>> (folder / "noise.csv").read_text().splitlines()[1].split(",")[:2]
    ['hum', '0.5']
    """
    rows, multichannel = [], []
    for utt_id, path in files:
        info = soundfile.info(os.fspath(path))
        if info.channels != 1:
            multichannel.append(path.name)
            continue
        rows.append({"ID": utt_id, "duration": f"{info.frames / info.samplerate:g}",
                     "wav": os.fspath(Path(path).resolve()),
                     "wav_format": Path(path).suffix.lstrip(".").lower(), "wav_opts": ""})
    if multichannel:
        logger.info("%s: left out %d files with more than one channel (e.g. %s).",
                    csv_path.name, len(multichannel), ", ".join(multichannel[:3]))
    with atomic_open(csv_path, newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=NOISE_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def prepare_musan(
    musan_folder: str | os.PathLike,
    save_folder: str | os.PathLike,
    parts: Sequence[str] = MUSAN_PARTS,
) -> dict[str, Path]:
    """Writes ``musan_<part>.csv`` for each part of MUSAN (``noise``, ``music``, ``speech``).

    Arguments
    ---------
    musan_folder : str or path-like
        The ``musan`` folder (holding ``noise/``, ``music/``, ``speech/``).
    save_folder : str or path-like
        Where the CSV files go.
    parts : sequence of str
        The parts to prepare.

    Returns
    -------
    dict
        ``musan_<part>`` to its CSV.
    """
    musan, save_folder = Path(musan_folder), Path(save_folder)
    unknown = set(parts) - set(MUSAN_PARTS)
    if unknown:
        raise ValueError(f"MUSAN parts are {MUSAN_PARTS}; got {sorted(unknown)}.")
    missing = [part for part in parts if not (musan / part).is_dir()]
    if missing:
        raise FileNotFoundError(f"No MUSAN in {musan}: expected the folders {missing}.")
    outputs = {f"musan_{part}": save_folder / f"musan_{part}.csv" for part in parts}
    record = PreparationRecord(save_folder, "musan", [musan / part for part in parts],
                               {"parts": list(parts)})
    if record.up_to_date(list(outputs.values())):
        return outputs
    save_folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        files = sorted((musan / part).glob("*/*.wav"))  # <part>/<source>/<name>.wav
        count = write_noise_csv(((f.stem, f) for f in files), outputs[f"musan_{part}"])
        logger.info("Wrote %s (%d files).", outputs[f"musan_{part}"], count)
    record.write()
    return outputs


def prepare_rirs_noises(
    rirs_folder: str | os.PathLike, save_folder: str | os.PathLike
) -> dict[str, Path]:
    """Writes the CSV files of RIRS_NOISES (OpenSLR 28).

    Arguments
    ---------
    rirs_folder : str or path-like
        The ``RIRS_NOISES`` folder.
    save_folder : str or path-like
        Where the CSV files go.

    Returns
    -------
    dict
        ``rirs_simulated`` (IDs as Kaldi's ``rir_list``: ``smallroom-Room001-00001``) and
        ``rirs_real`` (impulse responses, for ``AddReverb``), ``rirs_isotropic_noises`` and
        ``rirs_pointsource_noises`` (for ``AddNoise``), to their CSV.
    """
    rirs, save_folder = Path(rirs_folder), Path(save_folder)
    parts = ("simulated_rirs", "real_rirs_isotropic_noises", "pointsource_noises")
    missing = [part for part in parts if not (rirs / part).is_dir()]
    if missing:
        raise FileNotFoundError(f"No RIRS_NOISES in {rirs}: expected the folders {missing}.")
    real = rirs / "real_rirs_isotropic_noises"
    sets = {
        "rirs_simulated": [
            (f"{f.parent.parent.name}-{f.stem}", f)  # <size>/Room001/Room001-00001.wav
            for f in sorted((rirs / "simulated_rirs").glob("*/*/*.wav"))],
        "rirs_real": _listed(real / "rir_list", "--rir-id", rirs),
        "rirs_isotropic_noises": _listed(real / "noise_list", "--noise-id", rirs),
        "rirs_pointsource_noises": [
            (f.stem, f) for f in sorted((rirs / "pointsource_noises").glob("*.wav"))],
    }
    outputs = {name: save_folder / f"{name}.csv" for name in sets}
    record = PreparationRecord(save_folder, "rirs_noises", [rirs / p for p in parts], {})
    if record.up_to_date(list(outputs.values())):
        return outputs
    save_folder.mkdir(parents=True, exist_ok=True)
    for name, files in sets.items():
        logger.info("Wrote %s (%d files).", outputs[name], write_noise_csv(files, outputs[name]))
    record.write()
    return outputs


def _listed(list_file: Path, id_option: str, rirs: Path) -> list[tuple[str, Path]]:
    """The ``(ID, file)`` pairs of a Kaldi ``rir_list`` / ``noise_list``: options such as
    ``--rir-id <id>``, then the file's path ``RIRS_NOISES/...`` (read from ``rirs``,
    whatever its name)."""
    if not list_file.is_file():
        raise FileNotFoundError(f"No {list_file.name} in {list_file.parent}.")
    pairs = []
    for number, line in read_lines(list_file, ProtocolError):
        fields = line.split()
        if not fields:
            continue
        listed = Path(fields[-1]).parts  # RIRS_NOISES/<folder>/<name>.wav
        if id_option not in fields[:-1] or len(listed) < 2:
            raise ProtocolError(
                f"{list_file}, line {number}: expected {id_option} <id> ... "
                f"RIRS_NOISES/<path>.wav, got {line!r}."
            )
        path = rirs.joinpath(*listed[1:])
        if not path.is_file():
            raise FileNotFoundError(f"{list_file}, line {number}: {path} is missing.")
        pairs.append((fields[fields.index(id_option) + 1], path))
    return pairs
