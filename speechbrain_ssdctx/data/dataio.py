"""SpeechBrain data pipelines for ASVspoof-style manifests.

``load_datasets`` turns the manifests written by ``speechbrain_ssdctx.data.asvspoof`` into
``DynamicItemDataset`` objects that provide ``id``, ``sig`` (a waveform) and ``label_id``
(1 = bona fide, 0 = spoof by default: ``bonafide_index`` swaps them; -1 = unknown, as in
a 2021 manifest built without keys).
Training items are fixed-length crops (``train_audio_pipeline``); evaluation items follow
an explicit policy (``eval_audio_pipeline``, see ``audio.apply_window``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import speechbrain as sb
import torch

from speechbrain_ssdctx.data.audio import apply_window, crop_or_pad, load_audio
from speechbrain_ssdctx.method.contract import check_bonafide_index

__all__ = [
    "LABEL_IDS",
    "eval_audio_pipeline",
    "label_encoding",
    "label_pipeline",
    "load_datasets",
    "make_label_pipeline",
    "train_audio_pipeline",
]


def label_encoding(bonafide_index: int = 1) -> dict[str, int]:
    """Manifest label to class index: bona fide ``bonafide_index``, spoof the other one,
    unknown -1.

    The bona fide index is explicit: the logits of a detector trained with these labels
    have bona fide at that index, and scoring, the dev EER and an exported model's
    ``bonafide_index`` must all say the same.

    Arguments
    ---------
    bonafide_index : int
        0 or 1 (the project's convention, the ASVspoof one: 1).

    Example
    -------
    >>> label_encoding(), label_encoding(0)["bonafide"]
    ({'bonafide': 1, 'spoof': 0, 'unknown': -1}, 0)
    >>> label_encoding(2)
    Traceback (most recent call last):
    ...
    ValueError: bonafide_index must be 0 or 1, got 2
    """
    index = check_bonafide_index(bonafide_index)
    return {"bonafide": index, "spoof": 1 - index, "unknown": -1}


#: Manifest label to class index (the project's convention: bona fide = 1).
LABEL_IDS = label_encoding()


def train_audio_pipeline(
    num_samples: int = 96000,
    sample_rate: int = 16000,
    resample: bool = False,
    generator: torch.Generator | None = None,
    augmentation: Callable[[torch.Tensor, str], torch.Tensor] | None = None,
) -> Callable:
    """Returns a dynamic item ``wav -> sig``: a random crop (or repeat padding) of fixed length,
    optionally augmented.

    Arguments
    ---------
    num_samples : int
        Crop length (96,000 = 6 s at 16 kHz, the paper's input).
    sample_rate : int
        Expected sample rate.
    resample : bool
        Resample files at another rate instead of raising an error.
    generator : torch.Generator, optional
        Random source of the crop start (see ``crop_or_pad``).
    augmentation : callable, optional
        ``augmentation(crop, utterance_id) -> crop``, applied to every crop (e.g. an
        ``speechbrain_ssdctx.augment.AugmentationChain``): in the DataLoader's worker
        processes when it has some. The item then takes ``id`` too.

    Returns
    -------
    callable
        A SpeechBrain dynamic item (takes ``wav``, and ``id`` with an augmentation;
        provides ``sig``).

    Example
    -------
    >>> pipeline = train_audio_pipeline(8000)
    >>> pipeline("tests/fixtures/edge_cases/silence_1s_16k.wav").shape
    torch.Size([8000])
    >>> louder = train_audio_pipeline(8000, augmentation=lambda crop, utt: crop + 1.0)
    >>> louder("utt1", "tests/fixtures/edge_cases/silence_1s_16k.wav").unique().tolist()
    [1.0]
    """

    def crop(wav: str) -> torch.Tensor:
        signal = load_audio(wav, sample_rate=sample_rate, resample=resample)
        return crop_or_pad(signal, num_samples, random=True, generator=generator)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav: str) -> torch.Tensor:
        return crop(wav)

    if augmentation is None:
        return audio_pipeline

    @sb.utils.data_pipeline.takes("id", "wav")
    @sb.utils.data_pipeline.provides("sig")
    def augmented_pipeline(utterance_id: str, wav: str) -> torch.Tensor:
        return augmentation(crop(wav), utterance_id)

    return augmented_pipeline


def eval_audio_pipeline(
    policy: str = "official",
    num_samples: int | None = None,
    sample_rate: int = 16000,
    resample: bool = False,
) -> Callable:
    """Returns a dynamic item ``wav -> sig`` applying an evaluation policy.

    Arguments
    ---------
    policy : str
        ``"official"`` (first 64,600 samples, repeat-padded, as the official AASIST),
        ``"first"`` (first ``num_samples``, repeat-padded) or ``"full"``.
    num_samples : int, optional
        Window length of the ``"first"`` policy.
    sample_rate : int
        Expected sample rate.
    resample : bool
        Resample files at another rate instead of raising an error.

    Returns
    -------
    callable
        A SpeechBrain dynamic item (takes ``wav``, provides ``sig``).

    Example
    -------
    >>> pipeline = eval_audio_pipeline("full")
    >>> pipeline("tests/fixtures/edge_cases/very_short_0p1s_16k.wav").shape
    torch.Size([1600])
    """
    apply_window(torch.zeros(1), policy, num_samples)  # validates the policy early

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav: str) -> torch.Tensor:
        signal = load_audio(wav, sample_rate=sample_rate, resample=resample)
        return apply_window(signal, policy, num_samples)

    return audio_pipeline


def make_label_pipeline(bonafide_index: int = 1) -> Callable:
    """Returns a dynamic item ``label -> label_id`` with :func:`label_encoding`.

    Example
    -------
    >>> pipeline = make_label_pipeline(bonafide_index=0)
    >>> pipeline("bonafide"), pipeline("spoof")
    (0, 1)
    """
    encoding = label_encoding(bonafide_index)

    @sb.utils.data_pipeline.takes("label")
    @sb.utils.data_pipeline.provides("label_id")
    def label_pipeline(label: str) -> int:
        try:
            return encoding[label]
        except KeyError:
            raise ValueError(
                f"Unknown label {label!r}; expected one of {sorted(encoding)}."
            ) from None

    return label_pipeline


#: The dynamic item ``label -> label_id`` of the project's convention (bona fide 1).
label_pipeline = make_label_pipeline()


def load_datasets(
    manifests: Mapping[str, str | os.PathLike],
    train_splits: tuple[str, ...] = ("train",),
    train_num_samples: int = 96000,
    eval_policy: str = "official",
    eval_num_samples: int | None = None,
    sample_rate: int = 16000,
    resample: bool = False,
    generator: torch.Generator | None = None,
    bonafide_index: int = 1,
    augmentation: Callable[[torch.Tensor, str], torch.Tensor] | None = None,
) -> dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """Builds a ``DynamicItemDataset`` per manifest (output keys ``id``, ``sig``, ``label_id``).

    Arguments
    ---------
    manifests : mapping
        Split name to CSV manifest, e.g. the dict ``prepare_asvspoof2019_la`` returns
        (entries that are not ``.csv`` files, such as ``asv_dev``, are ignored).
    train_splits : tuple of str
        Splits that get random training crops; all others get the evaluation policy.
    train_num_samples : int
        Training crop length (default 6 s).
    eval_policy : str
        Evaluation policy (see ``eval_audio_pipeline``).
    eval_num_samples : int, optional
        Window of the ``"first"`` policy.
    sample_rate : int
        Expected sample rate.
    resample : bool
        Resample files at another rate instead of raising an error.
    generator : torch.Generator, optional
        Random source of the training crops.
    bonafide_index : int
        The class index of bona fide in ``label_id`` (see :func:`label_encoding`).
    augmentation : callable, optional
        Applied to every training crop (see :func:`train_audio_pipeline`); evaluation
        sets are never augmented.

    Returns
    -------
    dict
        Split name to dataset.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la
    >>> manifests = prepare_asvspoof2019_la(demo_corpus_folder(), tempfile.mkdtemp())
    >>> datasets = load_datasets(manifests, train_num_samples=16000)
    >>> item = datasets["train"][0]
    >>> item["sig"].shape, item["label_id"] in (0, 1)
    (torch.Size([16000]), True)
    """
    train = train_audio_pipeline(train_num_samples, sample_rate, resample, generator, augmentation)
    evaluate = eval_audio_pipeline(eval_policy, eval_num_samples, sample_rate, resample)
    labels = make_label_pipeline(bonafide_index)
    datasets = {}
    for split, path in manifests.items():
        if not os.fspath(path).endswith(".csv"):
            continue
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=os.fspath(path),
            dynamic_items=[train if split in train_splits else evaluate, labels],
            output_keys=["id", "sig", "label_id"],
        )
    return datasets
