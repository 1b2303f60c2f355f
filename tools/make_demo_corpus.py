#!/usr/bin/env python3
"""Builds the bundled demo corpus (ASVspoof 2019 LA layout) from a folder of real speech.

Developers run this once; the result is committed inside the package
(``speechbrain_ssdctx/data/demo/LA``) and nothing reads the source folder at run time::

    python tools/make_demo_corpus.py --speech /path/to/fixtures/speech \\
        --out speechbrain_ssdctx/data/demo --check

The input folder holds ``manifest.tsv`` (file, label, system, seconds, source, licence)
and the FLAC files it lists. The build is deterministic:

1. Bona fide recordings are grouped by source (VCTK, CMU ARCTIC, ...). Within a source,
   recordings of the same sentence (VCTK's two microphones) stay together, and a source
   with fewer than three such units has its longest unit cut in two time regions until
   it has three. Units go to train / dev / eval by a greedy fill towards 50 / 20 / 30 %
   of the source's duration, so every bona fide source is in every split (the splits
   cannot be told apart by channel) while no audio is shared between splits.
2. Spoofing systems seen in training (A01-A04) are split the same way, by recording;
   the NII vocoded twin of a bona fide recording follows that recording's time regions.
   Three further systems (A05-A07) appear only in eval, as ASVspoof's unseen attacks.
3. Units are cut into segments of about 3 s (shorter recordings stay whole); bona fide
   training segments overlap (1 s hop) to balance the classes. Segment counts per
   system and split are capped.

``--check`` then trains a logistic regression on log-Mel mean and standard deviation and
prints its eval EER on this split and on a counterfactual split that puts different bona
fide sources in train and eval (a channel shortcut): see docs/data.md, "The demo corpus".

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "eval")
SPLIT_LETTER = {"train": "T", "dev": "D", "eval": "E"}
SPLIT_SUFFIX = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}
TARGET_SHARE = {"train": 0.5, "dev": 0.2, "eval": 0.3}
SEGMENT_SECONDS = 3.0
WHOLE_BELOW_SECONDS = 4.5  # recordings (units) shorter than this stay in one piece
MIN_TAIL_SECONDS = 1.5
TRAIN_BONAFIDE_HOP = 1.0
SEED = 2019

#: Spoofing systems: demo id -> (source system name, seen in training).
SYSTEMS = {
    "A01": ("hn-nsf", True),
    "A02": ("hn-sinc-nsf-9", True),
    "A03": ("hifigan-anon", True),
    "A04": ("nii-vocoder", True),
    "A05": ("cyc-noise-nsf-4", False),
    "A06": ("hn-sinc-nsf-10", False),
    "A07": ("dstc11-tts", False),
}
#: Segment caps per (seen system, split) and for unseen systems in eval.
SPOOF_CAP = {"train": 8, "dev": 4, "eval": 4}
UNSEEN_CAP = 6
#: The vocoded twin follows the time regions of its bona fide original.
TWINS = {"nii_voc_11463_11657_000002": "nii_real_11463_11657_000002"}

LICENCE_FILES = {
    "VCTK": "VCTK_CC-BY-4.0.txt",
    "CMU ARCTIC": "CMU_ARCTIC_COPYING.txt",
    "SpeechBrain": "SpeechBrain_Apache-2.0.txt",
    "NII": "NII_project-NN-Pytorch-scripts_BSD-3-Clause.txt",
    "pyannote": "pyannote.audio_MIT.txt",
    "eurecom": "eurecom-asp_vocoder-drift_MIT.txt",
}


@dataclass
class Recording:
    """One source file of the speech folder."""

    path: Path
    label: str
    system: str
    seconds: float
    source: str
    licence: str

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def group(self) -> str:
        """Source group (bona fide) or system name (spoof)."""
        if self.label == "spoof":
            return self.system
        return self.stem.split("_")[0]

    @property
    def content(self) -> str:
        """Recordings sharing content (VCTK microphones) share this key."""
        stem = self.stem
        return stem.rsplit("_mic", 1)[0] if stem.startswith("vctk_") else stem

    @property
    def speaker(self) -> str:
        """A speaker label for the protocol (the real or pseudo speaker)."""
        parts = self.stem.split("_")
        if parts[0] == "vctk":
            return "vctk-" + parts[1]
        if parts[0] == "nsf":
            return "arctic-" + parts[2]
        if parts[0] == "cmuarctic":
            return "arctic-slt" if parts[1] == "slt" else "arctic-pysptk"
        if parts[0] in ("nii", "pyannote", "dstc11tts"):
            return parts[0]
        if parts[0] == "sbasr":
            return "sbasr-" + parts[1]
        if parts[0] == "hifigan":
            return "libri-" + parts[1].split("-")[0]
        return self.stem  # sbmic examples: one unknown speaker each


@dataclass
class Unit:
    """A (time region of a) group of recordings that goes to one split as a whole."""

    recordings: list[Recording]
    start: float
    end: float
    split: str = ""
    key: str = field(default="")

    @property
    def seconds(self) -> float:
        return self.end - self.start


def read_speech_manifest(folder: Path) -> list[Recording]:
    """Reads ``manifest.tsv`` of the speech folder (paths relative to its parent)."""
    with open(folder / "manifest.tsv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    recordings = []
    for row in rows:
        path = folder.parent / row["file"]
        if not path.is_file():
            sys.exit(f"{folder / 'manifest.tsv'} lists {row['file']}, not found at {path}.")
        info = soundfile.info(str(path))
        if info.samplerate != SAMPLE_RATE:
            sys.exit(f"{path} is at {info.samplerate} Hz, expected {SAMPLE_RATE}.")
        recordings.append(
            Recording(
                path,
                row["label"],
                row["system"],
                info.frames / SAMPLE_RATE,
                row["source"],
                row["licence"],
            )
        )
    return sorted(recordings, key=lambda r: r.stem)


def make_units(recordings: list[Recording], min_units: int) -> list[Unit]:
    """Groups recordings by content, then halves the longest unit until ``min_units``."""
    by_content: dict[str, list[Recording]] = defaultdict(list)
    for recording in recordings:
        by_content[recording.content].append(recording)
    units = [
        Unit(group, 0.0, min(r.seconds for r in group), key=key)
        for key, group in sorted(by_content.items())
    ]
    while len(units) < min_units:
        longest = max(units, key=lambda u: (u.seconds, u.key))
        middle = (longest.start + longest.end) / 2
        units.remove(longest)
        units += [
            Unit(longest.recordings, longest.start, middle, key=longest.key + "a"),
            Unit(longest.recordings, middle, longest.end, key=longest.key + "b"),
        ]
    return sorted(units, key=lambda u: (-u.seconds, u.key))


def assign_splits(units: list[Unit]):
    """First three units (longest first) to train, eval, dev; the rest fill the largest gap."""
    total = sum(u.seconds for u in units)
    filled = dict.fromkeys(SPLITS, 0.0)
    for index, unit in enumerate(units):
        if index < 3:
            unit.split = ("train", "eval", "dev")[index]
        else:
            unit.split = max(SPLITS, key=lambda s: (TARGET_SHARE[s] * total - filled[s], s))
        filled[unit.split] += unit.seconds


def regions(start: float, end: float, hop: float) -> list[tuple[float, float]]:
    """Cuts [start, end) into ~3 s windows; short spans stay whole."""
    if end - start < WHOLE_BELOW_SECONDS:
        return [(start, end)]
    windows, begin = [], start
    while begin + SEGMENT_SECONDS <= end + 1e-9:
        windows.append((begin, begin + SEGMENT_SECONDS))
        begin += hop
    if end - windows[-1][1] >= MIN_TAIL_SECONDS:
        windows.append((end - SEGMENT_SECONDS, end))
    return windows


def spread(items: list, cap: int) -> list:
    """At most ``cap`` items, evenly spread over the list (deterministic)."""
    if len(items) <= cap:
        return items
    indices = np.linspace(0, len(items) - 1, cap).round().astype(int)
    return [items[i] for i in indices]


@dataclass
class Segment:
    """One output utterance."""

    recording: Recording
    start: float
    end: float
    split: str
    attack: str  # "-" for bona fide


def plan_segments(recordings: list[Recording]) -> list[Segment]:
    """The whole split plan: units, splits, segments (see the module docstring)."""
    system_id = {name: demo_id for demo_id, (name, _) in SYSTEMS.items()}
    seen = {name for name, is_seen in SYSTEMS.values() if is_seen}
    segments: list[Segment] = []
    twin_units: dict[str, list[Unit]] = {}

    bonafide = defaultdict(list)
    for recording in recordings:
        if recording.label == "bonafide":
            bonafide[recording.group].append(recording)
    for _, members in sorted(bonafide.items()):
        units = make_units(members, 3)
        assign_splits(units)
        for unit in units:
            twin_units.setdefault(unit.recordings[0].stem, []).append(unit)
            hop = TRAIN_BONAFIDE_HOP if unit.split == "train" else SEGMENT_SECONDS
            for recording in unit.recordings:
                for start, end in regions(unit.start, unit.end, hop):
                    segments.append(Segment(recording, start, end, unit.split, "-"))

    spoof = defaultdict(list)
    for recording in recordings:
        if recording.label == "spoof":
            spoof[recording.system].append(recording)
    for name, members in sorted(spoof.items()):
        if name not in system_id:
            sys.exit(f"Unknown spoofing system {name!r}: add it to SYSTEMS.")
        planned: dict[str, list[Segment]] = defaultdict(list)
        if name in seen:
            twins = [r for r in members if r.stem in TWINS]
            units = make_units([r for r in members if r.stem not in TWINS], 3 if not twins else 0)
            assign_splits(units)
            for twin in twins:
                units += [
                    Unit([twin], u.start, u.end, u.split) for u in twin_units[TWINS[twin.stem]]
                ]
            for unit in units:
                for recording in unit.recordings:
                    for start, end in regions(unit.start, unit.end, SEGMENT_SECONDS):
                        planned[unit.split].append(
                            Segment(recording, start, end, unit.split, system_id[name])
                        )
            caps = SPOOF_CAP
        else:
            for recording in members:
                for start, end in regions(0.0, recording.seconds, SEGMENT_SECONDS):
                    planned["eval"].append(Segment(recording, start, end, "eval", system_id[name]))
            caps = {"eval": UNSEEN_CAP}
        for split, items in planned.items():
            segments += spread(items, caps[split])
    return segments


def utterance_ids(segments: list[Segment]) -> list[str]:
    """ASVspoof-style ids (``LA_T_0000001``), in a seeded random order per split."""
    ids = [""] * len(segments)
    rng = random.Random(SEED)
    for split in SPLITS:
        indices = [i for i, s in enumerate(segments) if s.split == split]
        numbers = list(range(1, len(indices) + 1))
        rng.shuffle(numbers)
        for index, number in zip(indices, numbers, strict=True):
            ids[index] = f"LA_{SPLIT_LETTER[split]}_{number:07d}"
    return ids


def speaker_ids(segments: list[Segment]) -> dict[str, str]:
    names = sorted({s.recording.speaker for s in segments})
    return {name: f"LA_{9001 + i:04d}" for i, name in enumerate(names)}


def write_corpus(segments: list[Segment], out: Path, licences: Path):
    """Writes flac segments, protocols, NOTICE.md and licence texts under ``out/LA``."""
    root = out / "LA"
    if root.exists():
        shutil.rmtree(root)
    ids, speakers = utterance_ids(segments), speaker_ids(segments)
    lines = defaultdict(list)
    for utt_id, segment in sorted(zip(ids, segments, strict=True), key=lambda p: p[0]):
        folder = root / f"ASVspoof2019_LA_{segment.split}" / "flac"
        folder.mkdir(parents=True, exist_ok=True)
        first = round(segment.start * SAMPLE_RATE)
        last = round(segment.end * SAMPLE_RATE)
        data, _ = soundfile.read(str(segment.recording.path), dtype="int16", start=first, stop=last)
        soundfile.write(str(folder / f"{utt_id}.flac"), data, SAMPLE_RATE, subtype="PCM_16")
        key = "bonafide" if segment.attack == "-" else "spoof"
        speaker = speakers[segment.recording.speaker]
        lines[segment.split].append(f"{speaker} {utt_id} - {segment.attack} {key}")
    protocols = root / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    for split in SPLITS:
        path = protocols / f"ASVspoof2019.LA.cm.{SPLIT_SUFFIX[split]}.txt"
        path.write_text("\n".join(lines[split]) + "\n", encoding="utf-8")
    write_sources(root, ids, segments, speakers)
    write_readme(root, segments, speakers)
    (root / "LICENSES").mkdir()
    for name in sorted(set(LICENCE_FILES.values())):
        shutil.copy(licences / name, root / "LICENSES" / name)


def write_sources(root: Path, ids, segments: list[Segment], speakers: dict[str, str]):
    """``sources.tsv``: where every demo utterance comes from (file, time span, licence)."""
    rows = ["ID\tsplit\tkey\tattack\tspeaker\tsource_file\tstart_s\tend_s\tsource\tlicence"]
    for utt_id, s in sorted(zip(ids, segments, strict=True), key=lambda p: p[0]):
        key = "bonafide" if s.attack == "-" else "spoof"
        rows.append(
            f"{utt_id}\t{s.split}\t{key}\t{s.attack}\t{speakers[s.recording.speaker]}\t"
            f"{s.recording.path.parent.name}/{s.recording.path.name}\t{s.start:.3f}\t"
            f"{s.end:.3f}\t{s.recording.source}\t{s.recording.licence}"
        )
    (root / "sources.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def write_readme(root: Path, segments: list[Segment], speakers: dict[str, str]):
    """``README.md``: splits, systems and speakers of the built corpus."""
    systems = ["| id | system | in |", "|---|---|---|"]
    for demo_id, (name, seen) in SYSTEMS.items():
        systems.append(f"| {demo_id} | {name} | {'train, dev, eval' if seen else 'eval only'} |")
    people = ["| speaker id | speaker |", "|---|---|"]
    people += [f"| {speaker_id} | {name} |" for name, speaker_id in sorted(speakers.items())]
    text = f"""# speechbrain-ssdctx demo corpus (ASVspoof 2019 LA layout)

Built by `tools/make_demo_corpus.py` (deterministic); see `../NOTICE.md` for sources
and licences and `sources.tsv` for the origin (file, time span, licence) of every
utterance. Segments of about {SEGMENT_SECONDS:g} s at {SAMPLE_RATE} Hz, 16-bit FLAC.

## Splits

{summary(segments)}

## Spoofing systems

{chr(10).join(systems)}

## Speakers

{chr(10).join(people)}
"""
    (root / "README.md").write_text(text, encoding="utf-8")


def summary(segments: list[Segment]) -> str:
    """A markdown table: segments and seconds per split and class / system."""
    counts = defaultdict(lambda: [0, 0.0])
    for s in segments:
        entry = counts[(s.split, s.attack)]
        entry[0] += 1
        entry[1] += s.end - s.start
    lines = ["| split | system | segments | seconds |", "|---|---|---|---|"]
    for (split, attack), (n, seconds) in sorted(
        counts.items(), key=lambda kv: (SPLITS.index(kv[0][0]), kv[0][1])
    ):
        name = "bona fide" if attack == "-" else f"{attack} ({SYSTEMS[attack][0]})"
        lines.append(f"| {split} | {name} | {n} | {seconds:.1f} |")
    return "\n".join(lines)


def logmel_stats(segment: Segment) -> np.ndarray:
    """Mean and standard deviation over time of 40 log-Mel energies (the --check features)."""
    import torch
    import torchaudio

    first = round(segment.start * SAMPLE_RATE)
    last = round(segment.end * SAMPLE_RATE)
    data, _ = soundfile.read(str(segment.recording.path), dtype="float32", start=first, stop=last)
    mel = torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=512, hop_length=160, n_mels=40)
    logmel = torch.log(mel(torch.from_numpy(data)) + 1e-6)
    return torch.cat([logmel.mean(dim=1), logmel.std(dim=1)]).numpy()


def logistic_regression_eer(features: np.ndarray, bonafide: np.ndarray, splits: list[str]) -> float:
    """Eval EER (%) of a logistic regression trained on the train rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from speechbrain_ssdctx.evaluation.eer import compute_eer

    splits = np.asarray(splits)
    train, test = splits == "train", splits == "eval"
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )
    model.fit(features[train], bonafide[train])
    scores = model.decision_function(features[test])
    return 100 * compute_eer(scores[bonafide[test]], scores[~bonafide[test]])[0]


def channel_check(segments: list[Segment]) -> str:
    """Logistic-regression EER on this split and on bona fide splits by source.

    The counterfactuals keep the spoofed segments where they are and move the bona fide
    segments of two or three whole sources to eval, the others to train: every choice
    of held-out sources is tried.
    """
    features = np.stack([logmel_stats(s) for s in segments])
    bonafide = np.array([s.attack == "-" for s in segments])
    chosen = logistic_regression_eer(features, bonafide, [s.split for s in segments])
    sources = sorted({s.recording.group for s in segments if s.attack == "-"})
    counterfactual = []
    for size in (2, 3):
        for held_out in itertools.combinations(sources, size):
            splits = [
                s.split
                if s.attack != "-"
                else ("eval" if s.recording.group in held_out else "train")
                for s in segments
            ]
            counterfactual.append(logistic_regression_eer(features, bonafide, splits))
    low, median, high = np.percentile(counterfactual, [0, 50, 100])
    return (
        f"Logistic regression on log-Mel mean+std, eval EER: {chosen:.1f} % on this split; "
        f"{median:.1f} % median (range {low:.1f}-{high:.1f} %) over the "
        f"{len(counterfactual)} splits with bona fide sources {', '.join(sources)} "
        "divided between train and eval (2 or 3 held out)."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speech", type=Path, required=True, help="speech folder (manifest.tsv)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (LA/ goes in it)")
    parser.add_argument(
        "--licences",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "LICENSES",
        help="folder with the licence texts to copy",
    )
    parser.add_argument("--check", action="store_true", help="run the logistic-regression check")
    args = parser.parse_args(argv)

    recordings = read_speech_manifest(args.speech)
    segments = plan_segments(recordings)
    write_corpus(segments, args.out, args.licences)
    print(summary(segments))
    print(f"\n{len(segments)} segments, {sum(s.end - s.start for s in segments):.1f} s")
    if args.check:
        print("\n" + channel_check(segments))


if __name__ == "__main__":
    main()
