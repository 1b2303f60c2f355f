"""Score files with an exported ONNX or TorchScript detector, as ``SpoofDetector`` does.

``ssdctx-export --format onnx`` (or ``torchscript``) writes ``<name>.onnx`` (``<name>.pt``):
the detector's ``wavs [batch, time] -> logits [batch, 2]`` graph
(:class:`~speechbrain_ssdctx.inference.portable_graph.ScoringGraph`), and next to it
``<name>.json``: the inference settings
(:class:`~speechbrain_ssdctx.inference.settings.InferenceSettings`) and the graph's
sha256. :class:`PortableSpoofDetector` reads both and scores files with the same windows
(:class:`~speechbrain_ssdctx.inference.windows.Windowing`), batching
(:func:`~speechbrain_ssdctx.inference.batching.stream_files`) and score convention as
:class:`~speechbrain_ssdctx.inference.SpoofDetector`; only the detector's forward pass
runs in ONNX Runtime (``pip install 'speechbrain-ssdctx[onnx]'``) or TorchScript.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from speechbrain_ssdctx.inference.batching import stream_files
from speechbrain_ssdctx.inference.export_folder import weights_sha256
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.inference.spoof_detector import FileScore, file_result, raise_on_error
from speechbrain_ssdctx.inference.windows import Windowing

#: The graph file's suffix of each export format.
PORTABLE_FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}

#: The first words of ``exported_by`` in every settings file an export writes.
SIDECAR_MARK = "speechbrain-ssdctx"

#: Names of the graph's input and output.
INPUT_NAME, OUTPUT_NAME = "wavs", "logits"


class PortableModelError(ValueError):
    """An ONNX / TorchScript export cannot be loaded (the message says which file and why)."""


def sidecar_path(graph: str | os.PathLike) -> pathlib.Path:
    """The settings file of a graph file: ``<name>.json`` next to ``<name>.onnx``.

    Example
    -------
    >>> sidecar_path("out/aasist.onnx").as_posix()
    'out/aasist.json'
    """
    return pathlib.Path(graph).with_suffix(".json")


def read_sidecar(graph: str | os.PathLike) -> dict:
    """The settings file of ``graph``, checked (mark, format, file name, sha256).

    Raises
    ------
    PortableModelError
        One line naming the file and what is wrong.
    """
    graph = pathlib.Path(graph)
    sidecar = sidecar_path(graph)
    if not graph.is_file():
        raise PortableModelError(f"Model file '{graph}' does not exist")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PortableModelError(
            f"'{graph}' has no settings file '{sidecar}' (written next to it by ssdctx-export)"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise PortableModelError(f"Cannot read '{sidecar}': {error}") from None
    if not isinstance(meta, dict) or not str(meta.get("exported_by", "")).startswith(SIDECAR_MARK):
        raise PortableModelError(f"'{sidecar}' is not the settings file of an ssdctx-export")
    if meta.get("format") not in PORTABLE_FORMATS or meta.get("file") != graph.name:
        raise PortableModelError(
            f"'{sidecar}' describes {meta.get('file')!r} ({meta.get('format')}), not '{graph.name}'"
        )
    if meta.get("sha256") != weights_sha256(graph):
        raise PortableModelError(
            f"'{graph}' is not the file its settings were exported with (sha256 differs): "
            "a half-copied file, or the graph of another export"
        )
    return meta


class PortableSpoofDetector:
    """Scores audio files with an exported ONNX or TorchScript graph and its settings.

    Arguments
    ---------
    run : callable
        Logits ``[n, 2]`` (float32 array) of ``[n, time]`` float32 windows.
    settings : InferenceSettings
        The stored settings (completed).
    path : str
        The graph's file, for messages.
    one_window : bool
        The graph takes one window per run (its batch axis was fixed while tracing).

    Example
    -------
    >>> detector = PortableSpoofDetector(lambda w: np.stack([0 * w[:, 0], w.mean(1)], 1),
    ...                                  InferenceSettings(window_policy="full").completed())
    >>> detector.logits([torch.ones(8), torch.zeros(8)]).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """

    def __init__(
        self, run: Callable[[np.ndarray], np.ndarray], settings: InferenceSettings,
        path: str = "<graph>", one_window: bool = False,
    ):
        self.run, self.settings, self.path = run, settings, path
        self.one_window = one_window
        self.set_window()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, threads: int | None = None, device: str = "cpu"
    ) -> PortableSpoofDetector:
        """Loads ``<name>.onnx`` or ``<name>.pt`` and the settings file next to it.

        Arguments
        ---------
        path : str or os.PathLike
            The graph file written by ``ssdctx-export --format onnx|torchscript``.
        threads : int, optional
            ONNX Runtime's intra-op threads (default: its own choice). TorchScript uses
            torch's (``torch.set_num_threads``).
        device : str
            The torch device of a TorchScript graph (ONNX runs on the CPU).

        Returns
        -------
        PortableSpoofDetector
        """
        meta = read_sidecar(path)
        try:
            settings = InferenceSettings.from_hparams(meta.get("settings") or {},
                                                      str(sidecar_path(path)))
        except ValueError as error:
            raise PortableModelError(f"{sidecar_path(path)}: {error}") from None
        runner = _onnx_runner if meta["format"] == "onnx" else _torchscript_runner
        one_window = (meta.get("input") or {}).get("shape", ["batch"])[0] == 1
        return cls(runner(pathlib.Path(path), threads, device), settings, os.fspath(path),
                   one_window)

    def set_window(
        self,
        policy: str | None = None,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        aggregate: str | None = None,
    ) -> PortableSpoofDetector:
        """Chooses how files are windowed (see
        :meth:`~speechbrain_ssdctx.inference.SpoofDetector.set_window`); returns ``self``."""
        settings = self.settings.in_use(policy, window_seconds, hop_seconds, aggregate)
        self.windowing = Windowing(settings, self.settings.min_samples or 1)
        return self

    def logits(self, windows: Sequence[torch.Tensor]) -> torch.Tensor:
        """The graph's logits ``[n, 2]`` (CPU float32) of windows of equal length (one
        window per run for a graph traced with a batch of one)."""
        batch = torch.stack(list(windows)).float().numpy()
        if self.one_window:
            return torch.from_numpy(np.concatenate(
                [np.asarray(self.run(row[None]), dtype=np.float32) for row in batch]))
        return torch.from_numpy(np.asarray(self.run(batch), dtype=np.float32))

    def score_each(
        self, paths: Iterable[str | os.PathLike], batch_size: int = 1,
        window_scores: bool = False,
    ) -> Iterator[FileScore]:
        """Scores every file, in order; see
        :meth:`~speechbrain_ssdctx.inference.SpoofDetector.score_each` (same windows,
        batches and errors)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        for item in stream_files(paths, self.windowing, self.settings.sample_rate,
                                 self.logits, batch_size):
            yield file_result(item, self.windowing, window_scores)

    def score_file(self, path: str | os.PathLike) -> float:
        """The bona fide score of one audio file (higher = more likely bona fide)."""
        return raise_on_error(next(self.score_each([path]))).score


def _onnx_runner(path: pathlib.Path, threads: int | None, device: str):
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "Scoring ONNX models needs onnxruntime: pip install 'speechbrain-ssdctx[onnx]'"
        ) from error
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


def _torchscript_runner(path: pathlib.Path, threads: int | None, device: str):
    graph = torch.jit.load(str(path), map_location=device).eval()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return graph(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return run


__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "PORTABLE_FORMATS",
    "PortableModelError",
    "PortableSpoofDetector",
    "read_sidecar",
    "sidecar_path",
]
