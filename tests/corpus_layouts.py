"""Official-layout corpora built from the bundled demo audio, for preparer and recipe tests.

- ASVspoof 5: ``ASVspoof5_protocols/ASVspoof5.{train,dev.track_1,eval.track_1}.tsv``
  (ten whitespace-separated columns, no header) and ``flac_T``, ``flac_D``,
  ``flac_E_eval`` holding ``<FLAC_FILE_NAME>.flac``;
- In-the-Wild: ``release_in_the_wild/`` with ``meta.csv`` (``file,speaker,label``,
  labels ``bona-fide`` / ``spoof``) and ``<n>.wav`` files;
- a labelled CSV (``path,label``) with paths relative to the CSV.
"""

import shutil
from pathlib import Path

import soundfile

from speechbrain_ssdctx.data import demo_corpus_folder, read_protocol_2019

SPLITS = {"train": ("train.trn", "T", "ASVspoof5.train.tsv", "flac_T"),
          "dev": ("dev.trl", "D", "ASVspoof5.dev.track_1.tsv", "flac_D"),
          "eval": ("eval.trl", "E", "ASVspoof5.eval.track_1.tsv", "flac_E_eval")}
CODECS = ["-", "C01", "C05"]


def demo_rows(split: str) -> list[dict]:
    """The demo corpus protocol rows of a split, with the path of each flac."""
    demo = demo_corpus_folder()
    suffix = SPLITS[split][0]
    protocols = demo / "ASVspoof2019_LA_cm_protocols"
    rows = read_protocol_2019(protocols / f"ASVspoof2019.LA.cm.{suffix}.txt")
    for row in rows:
        row["flac"] = demo / f"ASVspoof2019_LA_{split}" / "flac" / f"{row['ID']}.flac"
    return rows


def make_asvspoof5(root: Path) -> Path:
    """An ASVspoof 5 layout: the demo utterances renamed, attacks A01-A32 style, codecs."""
    protocols = root / "ASVspoof5_protocols"
    protocols.mkdir(parents=True)
    for split, (_, letter, protocol, folder) in SPLITS.items():
        (root / folder).mkdir()
        lines = []
        for i, row in enumerate(demo_rows(split)):
            name = f"{letter}_{i:010d}"
            shutil.copyfile(row["flac"], root / folder / f"{name}.flac")
            codec = CODECS[i % 3] if split == "eval" else "-"
            quality = "0" if codec == "-" else str(1 + i % 5)
            spoofed = row["label"] == "spoof"
            attack = f"A{int(row['attack'][1:]) + 16:02d}" if spoofed else "bonafide"
            lines.append(f"{letter}_{row['speaker'][-4:]} {name} {'FM'[i % 2]} {codec} {quality} "
                         f"- - {attack} {row['label']} -")
        (protocols / protocol).write_text("\n".join(lines) + "\n")
    return root


def make_in_the_wild(root: Path, count: int = 12) -> Path:
    """A release_in_the_wild folder: demo eval utterances as <n>.wav with meta.csv."""
    root.mkdir(parents=True)
    lines = ["file,speaker,label"]
    for i, row in enumerate(demo_rows("eval")[:count]):
        audio, rate = soundfile.read(row["flac"])
        soundfile.write(root / f"{i}.wav", audio, rate)
        label = "bona-fide" if row["label"] == "bonafide" else "spoof"
        lines.append(f"{i}.wav,Speaker {row['speaker'][-1]},{label}")
    (root / "meta.csv").write_text("\n".join(lines) + "\n")
    return root


def make_labelled_csv(root: Path, count: int = 10) -> Path:
    """A folder of labelled audio and its path,label CSV (paths relative to the CSV)."""
    (root / "real").mkdir(parents=True)
    (root / "fake").mkdir()
    lines = ["path,label,speaker"]
    for row in demo_rows("dev")[:count]:
        sub = "real" if row["label"] == "bonafide" else "fake"
        shutil.copyfile(row["flac"], root / sub / f"mine_{row['ID']}.flac")
        lines.append(f"{sub}/mine_{row['ID']}.flac,{row['label']},{row['speaker']}")
    path = root / "mine.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


#: A tiny MLAAD: language folders, TTS models (one multilingual) and utterances per model.
MLAAD_MODELS = {"en": ["tts_models_en_ljspeech_vits", "tts_models_multilingual_xtts_v2"],
                "de": ["tts_models_de_thorsten_vits", "tts_models_multilingual_xtts_v2",
                       "facebook_mms-tts-deu"]}
#: A tiny M-AILABS: <locale>/by_book/<gender>/<speaker>/<book> (mix: <book> alone).
MAILABS_BOOKS = {"en_US": [("female", "judy_bieber", "ozma_of_oz"),
                           ("male", "elliot_miller", "pink_fairy_book"),
                           ("mix", None, "sherlock_holmes")],
                 "de_DE": [("female", "eva_k", "grune_haus"),
                           ("male", "karlsson", "altehous")]}


def make_mlaad(root: Path, per_folder: int = 2) -> tuple[Path, Path]:
    """MLAAD (fake/<lang>/<model>/ with a |-separated meta.csv, 22.05 kHz wavs) and its
    M-AILABS bona fide (16 kHz wavs, metadata.csv per book), from the demo audio."""
    audio = [soundfile.read(row["flac"])[0] for row in demo_rows("train")]
    take = iter(range(10**6))
    mlaad = root / "MLAAD"
    header = ("path|original_file|language|is_original_language|duration|training_data|"
              "model_name|architecture|transcript")
    for language, models in MLAAD_MODELS.items():
        for model in models:
            folder = mlaad / "fake" / language / model
            folder.mkdir(parents=True)
            lines = [header]
            for i in range(per_folder):
                name = f"book_{i:02d}_f{i:06d}.wav"
                samples = audio[next(take) % len(audio)][:8000]
                soundfile.write(folder / name, samples, 22050)
                lines.append(f"./fake/{language}/{model}/{name}|{language}_X/by_book/a/b/c.wav|"
                             f"{language}|True|0.36|ljspeech|{model}|vits|Some text.")
            (folder / "meta.csv").write_text("\n".join(lines) + "\n")
    mailabs = root / "M-AILABS"
    for locale, books in MAILABS_BOOKS.items():
        for gender, speaker, book in books:
            folder = mailabs / locale / "by_book" / gender
            folder = (folder / speaker / book) if speaker else folder / book
            (folder / "wavs").mkdir(parents=True)
            lines = []
            for i in range(per_folder):
                file_id = f"{book}_01_f{i:06d}"
                soundfile.write(folder / "wavs" / f"{file_id}.wav",
                                audio[next(take) % len(audio)][:8000], 16000)
                lines.append(f"{file_id}|Text {i}.|Text {i}.")
            (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return mlaad, mailabs
