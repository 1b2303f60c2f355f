"""Score your own audio with a trained spoofing detector.

:class:`SpoofDetector` is a SpeechBrain :class:`~speechbrain.inference.interfaces.Pretrained`
interface. It loads a model folder written by ``ssdctx-export`` (a local folder or a
HuggingFace model id) or one of the bundled official AASIST models by short name, reads
audio at any sample rate and channel count, applies the window policy stored with the
model, and returns the bona fide score (higher = more likely genuine speech).

Authors
 * speechbrain-ssdctx contributors 2025
"""

import contextlib
import os
import pathlib
import pickle
import sys
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import NamedTuple

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import batch_pad_right
from speechbrain.utils.fetching import FetchConfig, fetch

from speechbrain_ssdctx.calibration import Calibration, posterior
from speechbrain_ssdctx.data.audio import AudioFileError, apply_window, crop_or_pad, load_audio
from speechbrain_ssdctx.metrics import DetectionCosts
from speechbrain_ssdctx.scores import SCORE_TYPES, bonafide_scores

#: Short names of the bundled models and their inference YAML in ``pretrained/``.
BUNDLED_MODELS = {
    "aasist": "aasist.yaml",
    "aasist-l": "aasist-l.yaml",
    "aasist-asvspoof5": "aasist-asvspoof5.yaml",
}

WINDOW_POLICIES = ("official", "first", "full")


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


class SpoofDetector(Pretrained):
    """Synthetic speech detection on files and batches of waveforms.

    The hyperparameters file (``hyperparams.yaml`` of a model folder) defines:
    ``detector`` (any module whose ``forward(wavs, lengths)`` returns
    ``(embedding, logits)`` with logits ``[batch, 2]``, index 1 = bona fide),
    ``modules: {detector: ...}``, a ``pretrainer``, ``sample_rate``,
    ``window_policy`` (``"official"``: the first 64,600 samples, repeat-padded, as the
    official AASIST code; ``"first"``: the first ``window_samples``, repeat-padded;
    ``"full"``: the whole file), ``window_samples``, ``threshold`` and optionally
    ``score_type`` (``"log_odds"``, the default: logit(bona fide) - logit(spoof);
    ``"bonafide_logit"``: the raw bona fide logit, the score of the official AASIST code),
    ``min_samples`` (the shortest input the detector accepts; see :meth:`window`) and
    ``calibration`` (``slope``, ``offset``, ``prior``: the affine map of scores to
    log-likelihood ratios that ``ssdctx-export`` stores, see
    :class:`~speechbrain_ssdctx.calibration.Calibration`).

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
        policy = self.hparams.window_policy
        if policy not in WINDOW_POLICIES:
            raise ValueError(f"window_policy must be one of {WINDOW_POLICIES}, got '{policy}'")
        if policy == "first" and not self.hparams.window_samples:
            raise ValueError("window_policy 'first' needs a positive window_samples")
        if self.score_type not in SCORE_TYPES:
            raise ValueError(f"score_type must be one of {SCORE_TYPES}, got '{self.score_type}'")

    @classmethod
    def from_hparams(
        cls,
        source: str | os.PathLike,
        hparams_file: str = "hyperparams.yaml",
        savedir: str | os.PathLike | None = None,
        overrides: dict | None = None,
        **kwargs,
    ) -> "SpoofDetector":
        """Loads a model from a local folder, a HuggingFace id or a bundled short name.

        A local folder (an existing directory; it wins over a short name of the same
        name) is read in place and never goes online, even if its YAML names remote
        paths. ``"aasist"`` and ``"aasist-l"`` load the bundled official models (their
        folder also loads by path, with ``hparams_file="aasist.yaml"``). Any other
        source must look like a HuggingFace id (``org/name``); a missing local path is
        reported as such instead of being sent to the Hub. A model exported with the
        user's own Python code (in its ``custom_interface.py``) gets that file fetched
        and importable while it loads.

        .. warning::
            A HyperPyYAML file runs code when it is loaded (its ``!new:`` and ``!name:``
            tags import and call any Python object). Load models only from sources you
            trust.

        Arguments
        ---------
        source : str or os.PathLike
            A model folder, a HuggingFace model id or a bundled short name.
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
        source = str(source)
        local = pathlib.Path(source).expanduser()
        if not local.is_dir() and source.lower() in BUNDLED_MODELS:
            local = bundled_models_dir()
            hparams_file = BUNDLED_MODELS[source.lower()]
        if local.is_dir():
            if not (local / hparams_file).is_file():
                raise FileNotFoundError(f"Model folder '{local}' has no '{hparams_file}'")
            kwargs["fetch_config"] = FetchConfig(allow_network=False)
            source = str(local.resolve())
        elif not _looks_like_hub_id(source):
            raise FileNotFoundError(
                f"Model '{source}' is neither a folder, a bundled model "
                f"({', '.join(BUNDLED_MODELS)}) nor a HuggingFace id (org/name)"
            )
        interface = _shipped_interface(source, hparams_file, savedir, kwargs.get("fetch_config"))
        with _importable_interface(interface):
            return super().from_hparams(
                source=source,
                hparams_file=hparams_file,
                savedir=savedir,
                overrides=overrides,
                **kwargs,
            )

    @property
    def score_type(self) -> str:
        """How logits become a score: ``"log_odds"`` (default) or ``"bonafide_logit"``."""
        return getattr(self.hparams, "score_type", "log_odds")

    @property
    def threshold(self) -> float:
        """The decision threshold on the score stored with the model."""
        return float(self.hparams.threshold)

    @property
    def calibration(self) -> Calibration | None:
        """The stored score calibration, or None for an uncalibrated model."""
        values = getattr(self.hparams, "calibration", None)
        return None if values is None else Calibration.from_mapping(values, "hyperparams.yaml")

    def load_audio(self, path: str | os.PathLike, savedir=None) -> torch.Tensor:
        """Reads a file as a mono waveform at the model's sample rate.

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

    def window(self, wav: torch.Tensor) -> torch.Tensor:
        """Applies the model's window policy to one 1-D waveform.

        Under the ``"full"`` policy a waveform shorter than :attr:`min_samples` is
        repeat-padded to it, so that very short files still score.
        """
        policy = self.hparams.window_policy
        num_samples = self.hparams.window_samples if policy == "first" else None
        wav = apply_window(wav, policy, num_samples)
        if wav.numel() < self.min_samples:
            wav = crop_or_pad(wav, self.min_samples, random=False)
        return wav

    @property
    def min_samples(self) -> int:
        """Shortest input of the detector: ``min_samples`` of the hyperparameters, else the
        detector's ``min_samples`` attribute, else 1."""
        value = getattr(self.hparams, "min_samples", None)
        return int(value or getattr(self.mods.detector, "min_samples", 1))

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows a batch and runs the detector.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, time]`` at the model's sample rate (right-padded).
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]`` (1.0 = the whole row).

        Returns
        -------
        embeddings : torch.Tensor
            ``[batch, embedding_dim]``.
        logits : torch.Tensor
            ``[batch, 2]``, index 1 = bona fide.
        """
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        num_samples = (wav_lens.cpu() * wavs.shape[1]).round().long()
        return self._detect(
            [self.window(wav[:n]) for wav, n in zip(wavs.cpu(), num_samples, strict=True)]
        )

    def _detect(self, windows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pads windowed waveforms into a batch and runs the detector on it."""
        batch, lengths = batch_pad_right(windows)
        with torch.no_grad():
            return self.mods.detector(
                batch.float().to(self.device), torch.as_tensor(lengths).to(self.device)
            )

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

    def score_file(self, path: str | os.PathLike) -> float:
        """The bona fide score of one audio file (any sample rate, mono or stereo)."""
        return float(self.score_batch(self.load_audio(path).unsqueeze(0))[0])

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
        _, logits = self.forward(self.load_audio(path).unsqueeze(0))
        score = float(self.scores_from_logits(logits)[0])
        calibration = self.calibration
        if calibration is None:
            prob = float(torch.softmax(logits.float(), dim=-1)[0, 1])
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
        """Yields ``(path, score)`` for each file, ``batch_size`` files per forward pass.

        Arguments
        ---------
        paths : iterable of str or os.PathLike
            Audio files.
        batch_size : int
            Files per forward pass (files are windowed first, then right-padded).

        Yields
        ------
        tuple of (str, float)
        """
        chunk: list[str] = []
        for path in paths:
            chunk.append(str(path))
            if len(chunk) == batch_size:
                yield from self._score_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._score_chunk(chunk)

    def _score_chunk(self, paths: list[str]) -> Iterator[tuple[str, float]]:
        """Scores a list of files in one forward pass."""
        _, logits = self._detect([self.window(self.load_audio(path)) for path in paths])
        yield from zip(paths, self.scores_from_logits(logits).float().cpu().tolist(), strict=True)


def _looks_like_hub_id(source: str) -> bool:
    """Whether ``source`` has the form ``org/name`` of a HuggingFace model id."""
    parts = source.split("/")
    return (
        len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and "\\" not in source
    )


#: The interface file of exported models (``foreign_class``'s ``pymodule_file``); the
#: hyperparameters refer to the code it ships as ``custom_interface.<name>``.
INTERFACE_MODULE = "custom_interface"


def _shipped_interface(source, hparams_file, savedir, fetch_config) -> pathlib.Path | None:
    """The model's ``custom_interface.py`` when its hyperparameters use code shipped in it
    (an exported model with the user's own modules), fetched next to them."""
    config = fetch_config or FetchConfig()
    text = fetch(filename=hparams_file, source=source, savedir=savedir,
                 fetch_config=config).read_text(encoding="utf-8")
    if f":{INTERFACE_MODULE}." not in text:
        return None
    return fetch(filename=f"{INTERFACE_MODULE}.py", source=source, savedir=savedir,
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
