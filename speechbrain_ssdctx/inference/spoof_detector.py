"""Score your own audio with a trained spoofing detector.

:class:`SpoofDetector` is a SpeechBrain :class:`~speechbrain.inference.interfaces.Pretrained`
interface. It loads a model folder written by ``ssdctx-export`` (a local folder or a
HuggingFace model id) or one of the bundled official AASIST models by short name, reads
audio at any sample rate and channel count, applies a window policy, and returns the bona
fide score (higher = more likely genuine speech).

Window policies (``window_policy`` of the model, or :meth:`SpoofDetector.set_window`):

- ``"official"``: the first 64,600 samples, repeat-padded (the official AASIST code);
- ``"first"``: the first ``window_samples``, repeat-padded;
- ``"sliding"``: windows of ``window_seconds`` every ``hop_seconds`` (the last one ends at
  the end of the file), their logits aggregated (``"mean"``, or the logits of the window
  with the ``"min"`` / ``"max"`` score); a file no longer than one window is scored whole.
  Memory stays bounded whatever the file's length;
- ``"full"``: the whole file in one pass. A model stored with ``"full"`` is scored with
  ``"sliding"`` unless ``"full"`` is asked for explicitly (a long file in one pass can take
  many gigabytes).

Files are read block by block (``speechbrain_ssdctx.data.stream``) and their windows are
batched with windows of the same length only: a batch is never padded, so a file's score
does not depend on the other files scored with it.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pickle
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import NamedTuple

import ruamel.yaml
import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.fetching import FetchConfig, fetch

from speechbrain_ssdctx.data.audio import (
    OFFICIAL_NUM_SAMPLES,
    WINDOW_POLICIES,
    AudioFileError,
    crop_or_pad,
    load_audio,
)
from speechbrain_ssdctx.data.audio_checks import AudioRangeWarning
from speechbrain_ssdctx.data.stream import AudioStream
from speechbrain_ssdctx.evaluation.calibration import Calibration, posterior
from speechbrain_ssdctx.evaluation.metrics import DetectionCosts
from speechbrain_ssdctx.evaluation.scores import DEFAULT_SCORE_TYPE, SCORE_TYPES, bonafide_scores

#: Short names of the bundled models and their inference YAML in ``pretrained/``.
BUNDLED_MODELS = {
    "aasist": "aasist.yaml",
    "aasist-l": "aasist-l.yaml",
    "aasist-asvspoof5": "aasist-asvspoof5.yaml",
}

#: How the logits of a file's windows become the file's logits.
AGGREGATIONS = ("mean", "min", "max")

#: Sliding-window length when the model stores none (seconds; the recipes' crops are 6 s).
DEFAULT_WINDOW_SECONDS = 6.0

#: Windows per forward pass of :meth:`SpoofDetector.forward` on in-memory waveforms.
WINDOWS_PER_PASS = 16


class SpoofDecision(NamedTuple):
    """The outcome of :meth:`SpoofDetector.classify_file`.

    Arguments
    ---------
    score : float
        The bona fide score (see :meth:`SpoofDetector.scores_from_logits`).
    prob_bonafide : float
        With a calibrated model: the posterior probability of bona fide at ``prior``;
        otherwise the (uncalibrated) softmax probability of the bona fide class.
    is_bonafide : bool
        The decision: with a calibrated model, ``llr`` at or above the Bayes threshold of
        the decision costs; otherwise ``score`` at or above the stored threshold.
    threshold : float
        That threshold (on ``llr`` with a calibrated model, else on ``score``).
    llr : float or None
        The calibrated log-likelihood ratio (None for a model without calibration).
    prior : float or None
        The bona fide prior of ``prob_bonafide`` and of the decision (calibrated models).
    """

    score: float
    prob_bonafide: float
    is_bonafide: bool
    threshold: float
    llr: float | None = None
    prior: float | None = None

    @property
    def label(self) -> str:
        """``"bonafide"`` or ``"spoof"``."""
        return "bonafide" if self.is_bonafide else "spoof"


class WindowScore(NamedTuple):
    """The score of one window of a file: ``start`` and ``end`` in seconds."""

    start: float
    end: float
    score: float


class FileScore(NamedTuple):
    """The outcome of scoring one file with :meth:`SpoofDetector.score_each`.

    Arguments
    ---------
    path : str
        The file.
    score : float or None
        The bona fide score; None if the file failed.
    error : str or None
        Why the file failed (unreadable, no samples, NaN or infinite samples or score).
    windows : list of WindowScore or None
        Per-window scores, when asked for.
    logits : torch.Tensor or None
        The file's aggregated logits ``[2]``.
    warnings : tuple of str
        What is wrong with a file that was scored (samples far outside [-1, 1]).
    """

    path: str
    score: float | None
    error: str | None = None
    windows: list[WindowScore] | None = None
    logits: torch.Tensor | None = None
    warnings: tuple[str, ...] = ()


def bundled_models_dir() -> pathlib.Path:
    """The folder holding the bundled official AASIST weights and their YAML files."""
    return pathlib.Path(str(resources.files("speechbrain_ssdctx") / "pretrained"))


def load_weights(module: torch.nn.Module, path: str | os.PathLike) -> None:
    """Pretrainer hook: loads a plain state_dict strictly, never unpickling objects.

    ``torch.load(weights_only=True)`` only accepts tensors and plain containers, so a
    tampered checkpoint cannot run code; every parameter must match (``strict=True``),
    unlike SpeechBrain's default transfer hook, which only logs missing keys.

    Arguments
    ---------
    module : torch.nn.Module
        The module to fill.
    path : str or os.PathLike
        A file written by ``torch.save(module.state_dict(), path)``.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), tmpdir / "lin.ckpt")
    >>> module = torch.nn.Linear(2, 1)
    >>> load_weights(module, tmpdir / "lin.ckpt")
    """
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state_dict, strict=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"'{path}' holds Python objects besides weights; refusing to unpickle them "
            f"(torch.load weights_only=True): {error}"
        ) from error
    except (RuntimeError, OSError, ValueError) as error:
        raise ValueError(f"Cannot load the weights in '{path}': {error}") from error


def is_bundled_name(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a bundled model rather than a path.

    A bundled short name wins over a folder of the same name in the current directory;
    write the folder as a path (``./aasist``, or any argument holding a slash) to load it.

    Example
    -------
    >>> is_bundled_name("AASIST-L"), is_bundled_name("./aasist"), is_bundled_name("x/aasist")
    (True, False, False)
    """
    text = os.fspath(source)
    return text.lower() in BUNDLED_MODELS and not any(c in text for c in "/\\~")


@dataclass
class _Pending:
    """A file being scored: its windows' logits as they come back, or its error."""

    path: str
    windows: dict[int, tuple[int, int, torch.Tensor]] = field(default_factory=dict)
    expected: int | None = None  # number of windows, known once the file is read
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.error is not None or (
            self.expected is not None and len(self.windows) == self.expected
        )


class SpoofDetector(Pretrained):
    """Synthetic speech detection on files and batches of waveforms.

    The hyperparameters file (``hyperparams.yaml`` of a model folder) defines:
    ``detector`` (any module whose ``forward(wavs, lengths)`` returns
    ``(embedding, logits)`` with logits ``[batch, 2]``, index 1 = bona fide),
    ``modules: {detector: ...}``, a ``pretrainer``, ``sample_rate``, ``window_policy``
    (see the module docstring), ``window_samples`` (for ``"first"``), ``threshold`` and
    optionally ``window_seconds``, ``hop_seconds`` and ``aggregate`` (for ``"sliding"``;
    default: ``window_samples`` or 6 s, half a window, ``"mean"``), ``score_type``
    (``"log_odds"``, the default: logit(bona fide) - logit(spoof); ``"bonafide_logit"``:
    the raw bona fide logit, the score of the official AASIST code) and ``min_samples``
    (the shortest input the detector accepts; shorter windows are repeat-padded to it) and
    ``calibration`` (``slope``, ``offset``, ``prior``: the affine map of scores to
    log-likelihood ratios that ``ssdctx-export`` stores, see
    :class:`~speechbrain_ssdctx.evaluation.calibration.Calibration`).

    Arguments
    ---------
    *args, **kwargs
        See :class:`~speechbrain.inference.interfaces.Pretrained`; use
        :meth:`from_hparams` to build one.

    Example
    -------
    >>> detector = SpoofDetector.from_hparams("aasist")
    >>> flac = "tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_train/flac/LA_T_1272637.flac"
    >>> decision = detector.classify_file(flac)
    >>> decision.label
    'bonafide'
    """

    HPARAMS_NEEDED = ["sample_rate", "window_policy", "window_samples", "threshold"]
    MODULES_NEEDED = ["detector"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._window: dict = {}
        stored = self.hparams.window_policy
        if stored not in WINDOW_POLICIES:
            raise ValueError(f"window_policy must be one of {WINDOW_POLICIES}, got '{stored}'")
        if stored == "first" and not self.hparams.window_samples:
            raise ValueError("window_policy 'first' needs a positive window_samples")
        if self.score_type not in SCORE_TYPES:
            raise ValueError(f"score_type must be one of {SCORE_TYPES}, got '{self.score_type}'")
        _check_sample_rate(self.hparams.sample_rate, self.mods.detector)
        self.set_window()

    @classmethod
    def from_hparams(
        cls,
        source: str | os.PathLike,
        hparams_file: str = "hyperparams.yaml",
        savedir: str | os.PathLike | None = None,
        overrides: dict | None = None,
        **kwargs,
    ) -> SpoofDetector:
        """Loads a model from a bundled short name, a local folder or a HuggingFace id.

        ``"aasist"`` and ``"aasist-l"`` load the bundled official models, even when a
        folder of that name exists in the current directory (write ``./aasist`` to load
        such a folder). A local folder is read in place and never goes online, even if
        its YAML names remote paths. Any other source must look like a HuggingFace id
        (``org/name``); a missing local path is reported as such instead of being sent to
        the Hub. The bundled models' folder also loads by path, with
        ``hparams_file="aasist.yaml"``. A model exported with the user's own Python code
        (in its ``custom_interface.py``) gets that file fetched and importable while it
        loads.

        .. warning::
            A HyperPyYAML file runs code when it is loaded (its ``!new:`` and ``!name:``
            tags import and call any Python object). Load models only from sources you
            trust.

        Arguments
        ---------
        source : str or os.PathLike
            A bundled short name, a model folder or a HuggingFace model id.
        hparams_file : str
            The hyperparameters file inside ``source``.
        savedir : str or os.PathLike, optional
            Where to link (local) or download (Hub) the files; by default local files are
            used in place and Hub files from the HuggingFace cache.
        overrides : dict, optional
            Changes to the hyperparameters (HyperPyYAML overrides).
        **kwargs
            Passed on to :func:`speechbrain.inference.interfaces.pretrained_from_hparams`
            (e.g. ``run_opts={"device": "cuda"}``).

        Returns
        -------
        SpoofDetector
        """
        overrides = dict(overrides or {})
        source = os.fspath(source)
        local = pathlib.Path(source).expanduser()
        if is_bundled_name(source):
            local = bundled_models_dir()
            hparams_file = BUNDLED_MODELS[source.lower()]
        if local.is_dir():
            _check_model_yaml(local / hparams_file, local)
            kwargs["fetch_config"] = FetchConfig(allow_network=False)
            source = str(local.resolve())
        elif not _looks_like_hub_id(source):
            raise FileNotFoundError(
                f"Model '{source}' is neither a folder, a bundled model "
                f"({', '.join(BUNDLED_MODELS)}) nor a HuggingFace id (org/name)"
            )
        interface = _shipped_interface(source, hparams_file, savedir, kwargs.get("fetch_config"))
        try:
            with _importable_interface(interface):
                return super().from_hparams(
                    source=source,
                    hparams_file=hparams_file,
                    savedir=savedir,
                    overrides=overrides,
                    **kwargs,
                )
        except KeyError as error:  # e.g. a Hub model whose YAML lacks 'pretrainer'
            raise ValueError(f"Model '{source}': {hparams_file} defines no {error}") from None

    # ---- window policy -----------------------------------------------------------------

    def set_window(
        self,
        policy: str | None = None,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        aggregate: str | None = None,
    ) -> SpoofDetector:
        """Chooses how files are windowed (None: the model's setting, see the class doc).

        Arguments
        ---------
        policy : str, optional
            ``"official"``, ``"first"``, ``"sliding"`` or ``"full"``.
        window_seconds, hop_seconds : float, optional
            Window length and hop of ``"sliding"`` (0 < hop <= window).
        aggregate : str, optional
            ``"mean"`` (of the windows' logits), ``"min"`` or ``"max"`` (the logits of the
            window with the lowest / highest score).

        Returns
        -------
        SpoofDetector
            ``self``.
        """
        hparams = self.hparams
        stored = hparams.window_policy
        policy = policy or ("sliding" if stored == "full" else stored)
        if policy not in WINDOW_POLICIES:
            raise ValueError(f"window policy must be one of {WINDOW_POLICIES}, got '{policy}'")
        if policy == "first" and not hparams.window_samples:
            raise ValueError("window policy 'first' needs the model's window_samples")
        rate = hparams.sample_rate
        default_window = (
            hparams.window_samples / rate if hparams.window_samples else DEFAULT_WINDOW_SECONDS
        )
        window = window_seconds or getattr(hparams, "window_seconds", None) or default_window
        hop = hop_seconds or getattr(hparams, "hop_seconds", None) or window / 2
        aggregate = aggregate or getattr(hparams, "aggregate", None) or "mean"
        if not 0 < hop <= window:
            raise ValueError(f"hop must be in (0, window]: got window {window} s, hop {hop} s")
        if aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {AGGREGATIONS}, got '{aggregate}'")
        self._window = {
            "policy": policy,
            "window": max(1, round(window * rate)),
            "hop": max(1, round(hop * rate)),
            "aggregate": aggregate,
        }
        return self

    @property
    def window_policy(self) -> str:
        """The window policy in use (``"sliding"`` for a model stored with ``"full"``)."""
        return self._window["policy"]

    @property
    def window_seconds(self) -> float:
        """Window length of the ``"sliding"`` policy, in seconds."""
        return self._window["window"] / self.hparams.sample_rate

    @property
    def hop_seconds(self) -> float:
        """Hop of the ``"sliding"`` policy, in seconds."""
        return self._window["hop"] / self.hparams.sample_rate

    @property
    def aggregate(self) -> str:
        """How windows' logits are aggregated."""
        return self._window["aggregate"]

    @property
    def score_type(self) -> str:
        """How logits become a score: ``"log_odds"`` (default) or ``"bonafide_logit"``."""
        return getattr(self.hparams, "score_type", DEFAULT_SCORE_TYPE)

    @property
    def threshold(self) -> float:
        """The decision threshold on the score stored with the model."""
        return float(self.hparams.threshold)

    @property
    def calibration(self) -> Calibration | None:
        """The stored score calibration, or None for an uncalibrated model."""
        values = getattr(self.hparams, "calibration", None)
        return None if values is None else Calibration.from_mapping(values, "hyperparams.yaml")

    @property
    def min_samples(self) -> int:
        """Shortest input of the detector: ``min_samples`` of the hyperparameters, else the
        detector's ``min_samples`` attribute, else 1."""
        value = getattr(self.hparams, "min_samples", None)
        return int(value or getattr(self.mods.detector, "min_samples", 1))

    def segments(self, blocks: Iterable[torch.Tensor]) -> Iterator[tuple[int, torch.Tensor]]:
        """The windows to score of one signal, as ``(start sample, window)`` pairs.

        Arguments
        ---------
        blocks : iterable of torch.Tensor
            The signal's consecutive 1-D blocks at the model's sample rate (one tensor, or
            an :class:`~speechbrain_ssdctx.data.stream.AudioStream`); only as much of it
            as a window needs is held in memory.

        Yields
        ------
        tuple of (int, torch.Tensor)

        Raises
        ------
        AudioFileError
            If the signal has no samples.

        Example
        -------
        >>> detector = SpoofDetector.from_hparams("aasist-l").set_window("sliding", 4, 2)
        >>> [(start, len(w)) for start, w in detector.segments([torch.ones(16000 * 9)])]
        [(0, 64000), (32000, 64000), (64000, 64000), (80000, 64000)]
        """
        policy = self.window_policy
        if policy in ("official", "first"):
            size = OFFICIAL_NUM_SAMPLES if policy == "official" else self.hparams.window_samples
            head = _take(blocks, size)
            yield 0, self._padded(crop_or_pad(head, size, random=False) if head.numel() else head)
        elif policy == "full":
            yield 0, self._padded(torch.cat([b.reshape(-1) for b in blocks] or [torch.zeros(0)]))
        else:
            yield from self._sliding(blocks)

    def window(self, wav: torch.Tensor) -> torch.Tensor:
        """The first window the policy scores of one 1-D waveform (the only one unless the
        policy is ``"sliding"`` and the waveform is longer than a window); used where one
        view per file is wanted (band maps, embeddings plots).

        Example
        -------
        >>> detector = SpoofDetector.from_hparams("aasist-l")
        >>> detector.window(torch.ones(16000)).shape
        torch.Size([64600])
        """
        return next(self.segments([wav]))[1]

    def _sliding(self, blocks: Iterable[torch.Tensor]) -> Iterator[tuple[int, torch.Tensor]]:
        window, hop = self._window["window"], self._window["hop"]
        buffer, offset, start, covered, total = torch.zeros(0), 0, 0, 0, 0
        for block in blocks:
            buffer = torch.cat([buffer, block.reshape(-1).float()])
            total += block.numel()
            while start + window <= total:
                yield start, buffer[start - offset: start - offset + window].clone()
                covered, start = start + window, start + hop
            keep_from = min(start, total - window)  # the tail may become the last window
            if keep_from > offset:
                buffer, offset = buffer[keep_from - offset:], keep_from
        if covered == 0:  # no longer than one window: the whole signal
            yield 0, self._padded(buffer)
        elif covered < total:  # a last window that ends with the signal
            yield total - window, buffer[total - window - offset:].clone()

    def _padded(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.numel() == 0:
            raise AudioFileError("holds no audio samples")
        if wav.numel() < self.min_samples:
            wav = crop_or_pad(wav, self.min_samples, random=False)
        return wav

    # ---- waveforms in memory -----------------------------------------------------------

    def load_audio(self, path: str | os.PathLike, savedir=None) -> torch.Tensor:
        """Reads a whole file as a mono waveform at the model's sample rate.

        Stereo is mixed down and other sample rates are resampled.

        Arguments
        ---------
        path : str or os.PathLike
            An audio file readable by soundfile / torchaudio.
        savedir : None
            Unused (kept for the signature of ``Pretrained.load_audio``).

        Returns
        -------
        torch.Tensor
            1-D float32 waveform.

        Raises
        ------
        AudioFileError
            If the file is missing, corrupt, not audio or holds no samples; the message
            names the file.
        """
        wav = load_audio(path, sample_rate=self.hparams.sample_rate, resample=True)
        if wav.numel() == 0:
            raise AudioFileError(f"'{path}' holds no audio samples")
        return wav

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows a batch, runs the detector and aggregates each row's windows.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, time]`` at the model's sample rate (right-padded).
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]`` (1.0 = the whole row).

        Returns
        -------
        embeddings : torch.Tensor
            ``[batch, embedding_dim]`` (the mean over a row's windows).
        logits : torch.Tensor
            ``[batch, 2]``, index 1 = bona fide (aggregated as :attr:`aggregate`).
        """
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        num_samples = (wav_lens.cpu() * wavs.shape[1]).round().long()
        windows = [
            (row, start, segment)
            for row, (wav, n) in enumerate(zip(wavs.cpu(), num_samples, strict=True))
            for start, segment in self.segments([wav[:n]])
        ]
        per_row: dict[int, list] = defaultdict(list)
        for group in _by_length(windows).values():
            size = max(WINDOWS_PER_PASS, wavs.shape[0])
            for first in range(0, len(group), size):
                chunk = group[first: first + size]
                embeddings, logits = self._detect([segment for _, _, segment in chunk])
                for (row, start, _), emb, logit in zip(chunk, embeddings, logits, strict=True):
                    per_row[row].append((start, emb, logit))
        rows = [sorted(per_row[row], key=lambda item: item[0]) for row in range(wavs.shape[0])]
        logits = torch.stack([self._aggregate(torch.stack([x[2] for x in r])) for r in rows])
        embeddings = torch.stack([torch.stack([x[1] for x in r]).mean(0) for r in rows])
        return embeddings, logits

    def _detect(self, windows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Runs the detector on windows of equal length (no padding); CPU float32 outputs."""
        batch = torch.stack(list(windows)).float().to(self.device)
        lengths = torch.ones(batch.shape[0], device=self.device)
        with torch.no_grad():
            embeddings, logits = self.mods.detector(batch, lengths)
        return embeddings.float().cpu(), logits.float().cpu()

    def _aggregate(self, logits: torch.Tensor) -> torch.Tensor:
        """One file's logits ``[2]`` from its windows' ``[windows, 2]``."""
        if logits.shape[0] == 1 or self.aggregate == "mean":
            return logits.mean(0)
        scores = self.scores_from_logits(logits)
        index = scores.argmin() if self.aggregate == "min" else scores.argmax()
        return logits[index]

    def scores_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Bona fide scores ``[batch]`` from logits ``[batch, 2]`` (see ``score_type``)."""
        return bonafide_scores(logits, self.score_type)

    def score_batch(self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None) -> torch.Tensor:
        """Bona fide scores of a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, time]`` at the model's sample rate (right-padded).
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``.

        Returns
        -------
        torch.Tensor
            Scores ``[batch]`` (CPU, float32); higher = more likely bona fide.
        """
        return self.scores_from_logits(self.forward(wavs, wav_lens)[1]).float().cpu()

    def encode_batch(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The detector's utterance embeddings ``[batch, embedding_dim]`` (CPU)."""
        return self.forward(wavs, wav_lens)[0].float().cpu()

    # ---- files -------------------------------------------------------------------------

    def score_file(self, path: str | os.PathLike) -> float:
        """The bona fide score of one audio file (any sample rate, mono or stereo, any length).

        Raises
        ------
        AudioFileError
            If the file cannot be scored; the message names it.
        """
        return _raise_on_error(next(self.score_each([path]))).score

    def classify_file(
        self, path: str | os.PathLike, costs: DetectionCosts | None = None
    ) -> SpoofDecision:
        """Score, probability of bona fide and decision of one file.

        A calibrated model (``calibration`` in its hyperparameters) gives the LLR, the
        posterior at the bona fide prior of ``costs`` and the Bayes decision for them
        (default: the ASVspoof 5 Track 1 costs); an uncalibrated one the softmax
        probability and the decision at its stored threshold.

        Arguments
        ---------
        path : str or os.PathLike
            An audio file.
        costs : DetectionCosts, optional
            Prior and costs of the decision (calibrated models only).
        """
        result = _raise_on_error(next(self.score_each([path])))
        score = result.score
        calibration = self.calibration
        if calibration is None:
            prob = float(torch.softmax(result.logits.double(), dim=-1)[1])
            return SpoofDecision(score, prob, score >= self.threshold, self.threshold)
        costs = costs or DetectionCosts()
        llr = float(calibration([score])[0])
        prior = 1 - costs.p_spoof
        threshold = costs.bayes_threshold
        prob = float(posterior(llr, prior))
        return SpoofDecision(score, prob, llr >= threshold, threshold, llr, prior)

    def score_files(
        self, paths: Iterable[str | os.PathLike], batch_size: int = 1
    ) -> Iterator[tuple[str, float]]:
        """Yields ``(path, score)`` for each file in order; raises on the first bad file.

        See :meth:`score_each` (which reports bad files instead of raising).

        Raises
        ------
        AudioFileError
            Naming the first file that cannot be scored.
        """
        for result in self.score_each(paths, batch_size):
            yield _raise_on_error(result).path, result.score

    def score_each(
        self,
        paths: Iterable[str | os.PathLike],
        batch_size: int = 1,
        window_scores: bool = False,
    ) -> Iterator[FileScore]:
        """Scores every file, in bounded memory; yields a :class:`FileScore` per file, in order.

        A file that cannot be read, holds no samples or NaN / infinite samples, or gets a
        non-finite score yields a ``FileScore`` with its ``error`` (nothing is raised), so
        one bad file never loses the others; a file scored despite a problem (samples far
        outside [-1, 1]) says so in ``FileScore.warnings``. Files are read in order of
        length and their windows batched with windows of the same length only (never
        padded).

        Arguments
        ---------
        paths : iterable of str or os.PathLike
            Audio files (any format libsndfile reads, any rate, any length).
        batch_size : int
            Windows per forward pass (>= 1).
        window_scores : bool
            Also return each window's score (``FileScore.windows``).

        Yields
        ------
        FileScore

        Example
        -------
        >>> detector = SpoofDetector.from_hparams("aasist-l")
        >>> edge = "tests/fixtures/edge_cases/"
        >>> for result in detector.score_each([edge + "empty.wav", edge + "stereo_16k.wav"]):
        ...     print(result.score is None, result.error is None)
        True False
        False True
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        pending = [_Pending(os.fspath(path)) for path in paths]
        streams: dict[int, AudioStream] = {}
        for index, item in enumerate(pending):
            try:
                streams[index] = AudioStream(item.path, self.hparams.sample_rate)
            except AudioFileError as error:
                item.error = str(error)
        buckets: dict[int, list] = defaultdict(list)
        emitted = 0
        for index in sorted(streams, key=lambda i: streams[i].num_samples):
            item = pending[index]
            try:
                count = 0
                for count, (start, segment) in enumerate(self.segments(streams[index]), 1):
                    bucket = buckets[segment.numel()]
                    bucket.append((index, count - 1, start, segment))
                    if len(bucket) == batch_size:
                        self._run_bucket(buckets.pop(segment.numel()), pending)
                    # Shorter windows cannot come any more (files go by length): run them.
                    for length in [k for k in buckets if k < segment.numel()]:
                        self._run_bucket(buckets.pop(length), pending)
                item.expected = count
                item.warnings = streams[index].warnings
            except AudioFileError as error:
                message = str(error)
                item.error = message if item.path in message else f"{item.path} {message}"
            while emitted < len(pending) and pending[emitted].done:
                yield self._result(pending[emitted], window_scores)
                emitted += 1
        for length in list(buckets):
            self._run_bucket(buckets.pop(length), pending)
        for item in pending[emitted:]:
            yield self._result(item, window_scores)

    def _run_bucket(self, bucket: list, pending: list[_Pending]) -> None:
        """Scores a batch of equal-length windows and files them with their files."""
        live = [entry for entry in bucket if pending[entry[0]].error is None]
        if not live:
            return
        _, logits = self._detect([segment for *_, segment in live])
        for (index, number, start, segment), row in zip(live, logits, strict=True):
            pending[index].windows[number] = (start, segment.numel(), row)

    def _result(self, item: _Pending, window_scores: bool) -> FileScore:
        """The :class:`FileScore` of a file whose windows are all scored (or that failed)."""
        if item.error is not None:
            return FileScore(item.path, None, item.error)
        starts, sizes, rows = zip(*(item.windows[n] for n in sorted(item.windows)), strict=True)
        logits = self._aggregate(torch.stack(rows))
        score = float(self.scores_from_logits(logits[None])[0])
        if not torch.isfinite(logits).all():
            return FileScore(item.path, None, f"{item.path}: the detector gave a non-finite "
                             f"score ({score}); the audio may be broken")
        windows = None
        if window_scores:
            rate = self.hparams.sample_rate
            scores = self.scores_from_logits(torch.stack(rows)).tolist()
            windows = [
                WindowScore(start / rate, (start + size) / rate, value)
                for start, size, value in zip(starts, sizes, scores, strict=True)
            ]
        return FileScore(item.path, score, None, windows, logits, tuple(item.warnings))


def _take(blocks: Iterable[torch.Tensor], size: int) -> torch.Tensor:
    """The first ``size`` samples of consecutive blocks (fewer if the signal is shorter)."""
    parts, have = [], 0
    for block in blocks:
        parts.append(block.reshape(-1)[: size - have])
        have += parts[-1].numel()
        if have >= size:
            break
    return torch.cat(parts).float() if parts else torch.zeros(0)


def _by_length(windows: list[tuple]) -> dict[int, list[tuple]]:
    groups: dict[int, list[tuple]] = defaultdict(list)
    for item in windows:
        groups[item[-1].numel()].append(item)
    return groups


def _raise_on_error(result: FileScore) -> FileScore:
    if result.error is not None:
        raise AudioFileError(result.error)
    for message in result.warnings:
        warnings.warn(message, AudioRangeWarning, stacklevel=3)
    return result


def _check_sample_rate(declared: int, detector: torch.nn.Module) -> None:
    """Refuses a model whose ``sample_rate`` differs from the rate its detector's modules
    were built for (a ``sample_rate`` attribute: AASIST, SpeechBrain's Fbank, ...)."""
    for name, module in detector.named_modules(prefix="detector"):
        built = getattr(module, "sample_rate", None)
        if isinstance(built, int) and built != declared:
            raise ValueError(
                f"the model declares sample_rate: {declared}, but {name} was built for "
                f"{built} Hz: its audio would be resampled to the wrong rate (set "
                f"sample_rate: {built} in hyperparams.yaml)"
            )


def _check_model_yaml(path: pathlib.Path, folder: pathlib.Path) -> None:
    """Refuses a model folder whose YAML lacks what loading needs, before running any of it."""
    if not path.is_file():
        raise FileNotFoundError(f"Model folder '{folder}' has no '{path.name}'")
    try:
        keys = ruamel.yaml.YAML().load(path.read_text(encoding="utf-8")) or {}
    except (ruamel.yaml.YAMLError, UnicodeDecodeError) as error:
        first = " ".join(str(error).split())
        raise ValueError(
            f"Model folder '{folder}': '{path.name}' is not valid YAML: {first}"
        ) from None
    missing = [key for key in ("modules", "pretrainer") if key not in keys]
    if missing:
        raise ValueError(
            f"Model folder '{folder}': '{path.name}' defines no {' or '.join(missing)} "
            "(a model folder written by ssdctx-export has both)"
        )


def _looks_like_hub_id(source: str) -> bool:
    """Whether ``source`` has the form ``org/name`` of a HuggingFace model id."""
    parts = source.split("/")
    return (
        len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and "\\" not in source
    )


#: The interface module of exported models; the hyperparameters refer to the code it
#: ships as ``custom_interface.<name>``.
INTERFACE_MODULE = "custom_interface"

#: The interface file of exported models (``foreign_class``'s ``pymodule_file``).
INTERFACE_FILE = f"{INTERFACE_MODULE}.py"

#: The class ``foreign_class`` returns from the interface file.
INTERFACE_CLASS = SpoofDetector.__name__


def _shipped_interface(source, hparams_file, savedir, fetch_config) -> pathlib.Path | None:
    """The model's ``custom_interface.py`` when its hyperparameters use code shipped in it
    (an exported model with the user's own modules), fetched next to them."""
    config = fetch_config or FetchConfig()
    text = fetch(filename=hparams_file, source=source, savedir=savedir,
                 fetch_config=config).read_text(encoding="utf-8")
    if f":{INTERFACE_MODULE}." not in text:
        return None
    return fetch(filename=INTERFACE_FILE, source=source, savedir=savedir,
                 fetch_config=config)


@contextlib.contextmanager
def _importable_interface(path: pathlib.Path | None):
    """Makes ``custom_interface`` import from ``path`` (not from a model loaded before)."""
    if path is None:
        yield
        return
    sys.modules.pop(INTERFACE_MODULE, None)
    sys.path.insert(0, str(path.parent))
    try:
        yield
    finally:
        sys.path.remove(str(path.parent))
