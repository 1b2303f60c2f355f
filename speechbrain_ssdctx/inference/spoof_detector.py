"""Score your own audio with a trained spoofing detector.

:class:`SpoofDetector` is a SpeechBrain :class:`~speechbrain.inference.interfaces.Pretrained`
interface. It loads a model folder written by ``ssdctx-export`` (a local folder or a
HuggingFace model id) or one of the bundled official AASIST models by short name, reads
audio at any sample rate and channel count, applies a window policy, and returns the bona
fide score (higher = more likely genuine speech).

The window policies (``"official"``, ``"first"``, ``"sliding"``, ``"full"``) are those of
:mod:`speechbrain_ssdctx.inference.windows`; a model stored with ``"full"`` is scored with
``"sliding"`` unless ``"full"`` is asked for explicitly (a long file in one pass can take
many gigabytes). Files are read block by block and their windows batched with windows of
the same length only (:mod:`speechbrain_ssdctx.inference.batching`): a batch is never
padded, so a file's score does not depend on the other files scored with it.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.fetching import FetchConfig

from speechbrain_ssdctx.data.audio import AudioFileError, load_audio
from speechbrain_ssdctx.data.audio_checks import AudioRangeWarning
from speechbrain_ssdctx.evaluation.calibration import Calibration, posterior
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts
from speechbrain_ssdctx.evaluation.scores import bonafide_scores
from speechbrain_ssdctx.inference.batching import ScoredFile, batches_by_length, stream_files
from speechbrain_ssdctx.inference.model_folder import (
    BUNDLED_MODELS,
    bundled_models_dir,
    check_model_yaml,
    claim_savedir,
    fetched_hparams,
    folder_overrides,
    importable_interface,
    is_bundled_name,
    looks_like_hub_id,
    shipped_interface,
)
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.inference.trust import check_model_hparams
from speechbrain_ssdctx.inference.windows import Windowing

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


class SpoofDetector(Pretrained):
    """Synthetic speech detection on files and batches of waveforms.

    The hyperparameters file (``hyperparams.yaml`` of a model folder) defines:
    ``detector`` (any module whose ``forward(wavs, lengths)`` returns
    ``(embedding, logits)`` with logits ``[batch, 2]``, index 1 = bona fide),
    ``modules: {detector: ...}``, a ``pretrainer``, and the inference settings
    (:class:`~speechbrain_ssdctx.inference.settings.InferenceSettings`, read and checked
    when the model loads: :attr:`settings`): ``sample_rate``, ``window_policy``,
    ``window_samples`` and ``threshold``, and optionally ``window_seconds``,
    ``hop_seconds``, ``aggregate``, ``score_type`` (``"log_odds"``, the default:
    logit(bona fide) - logit(spoof); ``"bonafide_logit"``: the raw bona fide logit, the
    score of the official AASIST code), ``min_samples`` (the shortest input the detector
    accepts; shorter windows are repeat-padded to it) and ``calibration`` (``slope``,
    ``offset``, ``prior``: the affine map of scores to log-likelihood ratios that
    ``ssdctx-export`` stores, see
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
        #: The settings stored with the model (see :class:`InferenceSettings`).
        self.settings = InferenceSettings.from_hparams(vars(self.hparams))
        _check_sample_rate(self.hparams.sample_rate, self.mods.detector)
        self.set_window()

    @classmethod
    def from_hparams(
        cls,
        source: str | os.PathLike,
        hparams_file: str = "hyperparams.yaml",
        savedir: str | os.PathLike | None = None,
        overrides: dict | None = None,
        trust_remote_code: bool = False,
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

        A HyperPyYAML file runs code when it is loaded (its ``!new:``, ``!name:`` and
        ``!apply:`` tags import and call Python objects). Unless ``trust_remote_code``,
        the file's tags are checked first, nothing built, against an allow-list
        (:mod:`speechbrain_ssdctx.inference.trust`: this package, SpeechBrain's lobes,
        nnet and processing modules, torch modules, the callables exports write); any
        other tag is refused with the line naming it.

        Arguments
        ---------
        source : str or os.PathLike
            A bundled short name, a model folder or a HuggingFace model id.
        hparams_file : str
            The hyperparameters file inside ``source``.
        savedir : str or os.PathLike, optional
            Where to link (local) or download (Hub) the files; by default local files are
            used in place and Hub files from the HuggingFace cache. A savedir holds one
            model: it is reused for the same model only, and a folder holding another
            model (or files no load put there) is refused.
        overrides : dict, optional
            Changes to the hyperparameters (HyperPyYAML overrides).
        trust_remote_code : bool
            Build whatever the hyperparameters name, unchecked (only for models from
            sources you trust).
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
            check_model_yaml(local / hparams_file, local)
            kwargs["fetch_config"] = FetchConfig(allow_network=False)
            source = str(local.resolve())
        elif not looks_like_hub_id(source):
            raise FileNotFoundError(
                f"Model '{source}' is neither a folder, a bundled model "
                f"({', '.join(BUNDLED_MODELS)}) nor a HuggingFace id (org/name)"
            )
        if savedir is not None:
            claim_savedir(savedir, source, hparams_file)
        interface = shipped_interface(source, hparams_file, savedir, kwargs.get("fetch_config"))
        overrides = {
            **folder_overrides(source, hparams_file, savedir, kwargs.get("fetch_config")),
            **overrides,
        }
        if not trust_remote_code:
            check_model_hparams(
                fetched_hparams(source, hparams_file, savedir, kwargs.get("fetch_config")),
                overrides,
            )
        try:
            with importable_interface(interface):
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
        settings = self.settings.in_use(policy, window_seconds, hop_seconds, aggregate)
        self.windowing = Windowing(settings, self.min_samples)
        return self

    @property
    def window_policy(self) -> str:
        """The window policy in use (``"sliding"`` for a model stored with ``"full"``)."""
        return self.windowing.settings.window_policy

    @property
    def window_seconds(self) -> float:
        """Window length of the ``"sliding"`` policy, in seconds."""
        return self.windowing.window / self.settings.sample_rate

    @property
    def hop_seconds(self) -> float:
        """Hop of the ``"sliding"`` policy, in seconds."""
        return self.windowing.hop / self.settings.sample_rate

    @property
    def aggregate(self) -> str:
        """How windows' logits are aggregated."""
        return self.windowing.settings.aggregate

    @property
    def score_type(self) -> str:
        """How logits become a score: ``"log_odds"`` (default) or ``"bonafide_logit"``."""
        return self.settings.score_type

    @property
    def threshold(self) -> float:
        """The decision threshold on the score stored with the model."""
        return self.settings.threshold

    @property
    def calibration(self) -> Calibration | None:
        """The stored score calibration, or None for an uncalibrated model."""
        return self.settings.calibration

    @property
    def min_samples(self) -> int:
        """Shortest input of the detector: ``min_samples`` of the hyperparameters, else the
        detector's ``min_samples`` attribute, else 1."""
        return int(self.settings.min_samples or getattr(self.mods.detector, "min_samples", 1))

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
        return self.windowing.segments(blocks)

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
        wav = load_audio(path, sample_rate=self.settings.sample_rate, resample=True)
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
        for chunk in batches_by_length(windows, max(WINDOWS_PER_PASS, wavs.shape[0])):
            embeddings, logits = self._detect([segment for _, _, segment in chunk])
            for (row, start, _), emb, logit in zip(chunk, embeddings, logits, strict=True):
                per_row[row].append((start, emb, logit))
        rows = [sorted(per_row[row], key=lambda item: item[0]) for row in range(wavs.shape[0])]
        logits = torch.stack([self.windowing.merge(torch.stack([x[2] for x in r])) for r in rows])
        embeddings = torch.stack([torch.stack([x[1] for x in r]).mean(0) for r in rows])
        return embeddings, logits

    def _detect(self, windows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Runs the detector on windows of equal length (no padding); CPU float32 outputs."""
        batch = torch.stack(list(windows)).float().to(self.device)
        lengths = torch.ones(batch.shape[0], device=self.device)
        with torch.no_grad():
            embeddings, logits = self.mods.detector(batch, lengths)
        return embeddings.float().cpu(), logits.float().cpu()

    def _logits(self, windows: Sequence[torch.Tensor]) -> torch.Tensor:
        return self._detect(windows)[1]

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
        return raise_on_error(next(self.score_each([path]))).score

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
        result = raise_on_error(next(self.score_each([path])))
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
            yield raise_on_error(result).path, result.score

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
        for item in stream_files(paths, self.windowing, self.settings.sample_rate,
                                 self._logits, batch_size):
            yield self._result(item, window_scores)

    def _result(self, item: ScoredFile, window_scores: bool) -> FileScore:
        """The :class:`FileScore` of a file whose windows are all scored (or that failed)."""
        return file_result(item, self.windowing, window_scores)


def file_result(item: ScoredFile, windowing: Windowing, window_scores: bool) -> FileScore:
    """The :class:`FileScore` of a file whose windows are all scored (or that failed): its
    windows' logits merged by ``windowing``, scored with its settings' score type.

    Arguments
    ---------
    item : ScoredFile
        The file, its windows' logits or its error.
    windowing : Windowing
        The window policy and settings in use.
    window_scores : bool
        Also give each window's score.

    Returns
    -------
    FileScore
    """
    if item.error is not None:
        return FileScore(item.path, None, item.error)
    settings = windowing.settings
    starts, sizes, rows = zip(*(item.windows[n] for n in sorted(item.windows)), strict=True)
    logits = windowing.merge(torch.stack(rows))
    score = float(bonafide_scores(logits[None], settings.score_type)[0])
    if not torch.isfinite(logits).all():
        return FileScore(item.path, None, f"{item.path}: the detector gave a non-finite "
                         f"score ({score}); the audio may be broken")
    windows = None
    if window_scores:
        rate = settings.sample_rate
        scores = bonafide_scores(torch.stack(rows), settings.score_type).tolist()
        windows = [
            WindowScore(start / rate, (start + size) / rate, value)
            for start, size, value in zip(starts, sizes, scores, strict=True)
        ]
    return FileScore(item.path, score, None, windows, logits, tuple(item.warnings))


def raise_on_error(result: FileScore) -> FileScore:
    """``result``, its warnings issued; raises :class:`AudioFileError` for a failed file."""
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
