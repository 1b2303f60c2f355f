"""Export a detector as one ONNX or TorchScript file, with its settings and model card.

``ssdctx-export --format onnx|torchscript`` writes a folder holding:

- ``<name>.onnx`` (or ``<name>.pt``): the detector's ``wavs [batch, time] -> logits
  [batch, 2]`` graph, front end included, batch and time axes dynamic
  (:class:`~speechbrain_ssdctx.inference.portable_graph.ScoringGraph`);
- ``<name>.json``: the inference settings the graph is scored with (window policy, score
  type, threshold, calibration, shortest input) and the graph's sha256, read by
  :class:`~speechbrain_ssdctx.inference.portable_detector.PortableSpoofDetector`;
- ``README.md``: the model card, with how to run the file (also with ONNX Runtime alone).

Any model :class:`~speechbrain_ssdctx.inference.SpoofDetector` loads can be exported
(:func:`export_portable`: a bundled name, an exported model folder, a Hub id), and so can
a training run (:func:`export_portable_run`: the run is exported as a model folder in a
scratch folder first, as ``ssdctx-export`` does, then loaded).

Both formats are traced with TorchScript's tracer: ONNX with ``torch.onnx.export(...,
dynamo=False)`` (the TorchScript-based exporter). The dynamo exporter, torch's default,
specialises AASIST's graph pooling (its number of kept nodes, ``int(N * ratio)``) to the
example's length, and takes ~30 s per model instead of a few seconds. The tracer records
the shapes the graph computes from its input, so any length works; the export checks it:
the written file is loaded back and must give the detector's logits (to 1e-4) on two
probes of different lengths, or nothing is written.

The folder follows the rules of model folders
(:mod:`~speechbrain_ssdctx.inference.export_folder`): written in a staging folder, moved
into place once checked; an earlier ONNX / TorchScript export is replaced whole, any other
non-empty folder is refused.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import fields, replace

import torch

from speechbrain_ssdctx import __version__
from speechbrain_ssdctx.inference.export_folder import (
    ExportError,
    check_destination,
    staged_export,
    weights_sha256,
)
from speechbrain_ssdctx.inference.model_card import ModelCard, PortableFile, model_card
from speechbrain_ssdctx.inference.portable_detector import (
    INPUT_NAME,
    OUTPUT_NAME,
    PORTABLE_FORMATS,
    SIDECAR_MARK,
    PortableSpoofDetector,
)
from speechbrain_ssdctx.inference.portable_graph import ScoringGraph, quiet_tracing, traceable
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

#: The ONNX operator set of the exported graphs (ONNX Runtime 1.14 and later run it).
OPSET = 17

#: The largest difference of logits the loaded-back graph may have with the detector.
TOLERANCE = 1e-4

logger = logging.getLogger(__name__)


def is_portable_export(folder: pathlib.Path) -> bool:
    """Whether ``folder`` holds an ONNX / TorchScript export and nothing else.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> is_portable_export(folder)
    False
    """
    names = {entry.name for entry in folder.iterdir()}
    sidecars = [folder / name for name in names if name.endswith(".json")]
    if len(sidecars) != 1:
        return False
    try:
        meta = json.loads(sidecars[0].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return (isinstance(meta, dict) and str(meta.get("exported_by", "")).startswith(SIDECAR_MARK)
            and names <= {"README.md", sidecars[0].name, str(meta.get("file"))})


def export_portable(
    detector: SpoofDetector,
    out_dir: str | os.PathLike,
    fmt: str = "onnx",
    card: ModelCard | None = None,
    name: str | None = None,
) -> pathlib.Path:
    """Writes a loaded detector as ``<out_dir>/<name>.onnx`` (or ``.pt``), settings and card.

    Arguments
    ---------
    detector : SpoofDetector
        Any loaded model (bundled, exported folder, Hub id), on the CPU.
    out_dir : str or os.PathLike
        A new or empty folder, or an earlier ONNX / TorchScript export (replaced whole).
    fmt : str
        ``"onnx"`` or ``"torchscript"``.
    card : ModelCard, optional
        What the model card says.
    name : str, optional
        The file's name (default: the card's name, else the folder's).

    Returns
    -------
    pathlib.Path
        The graph file written.

    Raises
    ------
    ExportError
        If the folder is refused, or the graph does not give the detector's logits.
    """
    if fmt not in PORTABLE_FORMATS:
        raise ExportError(f"format must be one of {sorted(PORTABLE_FORMATS)}, got {fmt!r}")
    out_dir = pathlib.Path(out_dir)
    card = card or ModelCard()
    stem = _file_stem(name or card.name or out_dir.name)
    graph = ScoringGraph(detector.mods.detector)
    settings = replace(detector.settings, bonafide_index=1, min_samples=detector.min_samples)
    portable = PortableFile(fmt, stem + PORTABLE_FORMATS[fmt], stem + ".json")
    probes = _probes(settings)
    with staged_export(out_dir, is_portable_export) as staging:
        with torch.no_grad():  # as SpoofDetector runs it: whole windows, lengths of 1
            expected = [graph.scorer(probe, torch.ones(len(probe)))[1] for probe in probes]
        batch = _traced_batch(graph, probes, expected, staging, portable, settings, out_dir)
        (staging / "README.md").write_text(
            model_card(replace(card, name=card.name or stem), settings, graph.scorer,
                       out_dir.name, portable=portable), encoding="utf-8")
        logger.info("Exported %s (batch axis: %s)", portable.file, batch)
    return out_dir / portable.file


def _traced_batch(graph, probes, expected, staging, portable, settings, out_dir) -> str | int:
    """Traces the graph with a dynamic batch axis, or, when the detector's code fixes the
    batch while tracing (SpeechBrain's ECAPA-TDNN takes ``len(lengths)`` as a Python
    number), with a batch of one window, which the settings file records and
    :class:`PortableSpoofDetector` then follows. Returns the batch axis (``"batch"`` or
    ``1``)."""
    try:
        _write_graph(graph, probes, expected, staging, portable, settings, out_dir, "batch")
        return "batch"
    except ExportError:
        _write_graph(graph, probes, expected, staging, portable, settings, out_dir, 1)
        return 1


def _write_graph(graph, probes, expected, staging, portable, settings, out_dir, batch) -> None:
    """Traces on a probe of ``batch`` rows (all rows when dynamic), writes the graph and its
    settings file, and checks the graph against the detector's logits."""
    path = staging / portable.file
    example = probes[0] if batch == "batch" else probes[0][:batch]
    with quiet_tracing(), traceable(graph, onnx=portable.format == "onnx"), torch.no_grad():
        _trace(graph, example, path, portable.format)
    (staging / portable.sidecar).write_text(json.dumps(
        _sidecar(portable, settings, weights_sha256(path), batch), indent=2) + "\n",
        encoding="utf-8")
    _check_graph(path, probes, expected, out_dir)


def export_portable_run(
    write_folder: Callable[[pathlib.Path], pathlib.Path],
    out_dir: str | os.PathLike,
    fmt: str = "onnx",
    card: ModelCard | None = None,
) -> pathlib.Path:
    """Exports a trained detector as ONNX / TorchScript through a scratch model folder.

    Arguments
    ---------
    write_folder : callable
        Writes the model folder at the path it is given (e.g. ``lambda folder:
        export_model(run, folder)``, :func:`~speechbrain_ssdctx.inference.export_model`).
    out_dir : str or os.PathLike
        Where the ONNX / TorchScript export goes (see :func:`export_portable`).
    fmt : str
        ``"onnx"`` or ``"torchscript"``.
    card : ModelCard, optional
        What the model card says.

    Returns
    -------
    pathlib.Path
        The graph file written.
    """
    out_dir = pathlib.Path(out_dir)
    check_destination(out_dir, is_portable_export)  # before anything is trained or built
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_folder(pathlib.Path(scratch) / out_dir.name)
        detector = SpoofDetector.from_hparams(folder)
        return export_portable(detector, out_dir, fmt, card, name=card.name if card else None)


def _trace(graph: ScoringGraph, example: torch.Tensor, path: pathlib.Path, fmt: str) -> None:
    """Traces ``graph`` on ``example`` into ``path``: both axes of the input dynamic."""
    try:
        if fmt == "torchscript":
            torch.jit.trace(graph, example, check_trace=False).save(str(path))
            return
        # dynamo=False: see the module description (data-dependent sizes, export time).
        torch.onnx.export(
            graph, (example,), str(path), dynamo=False, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "time"}, OUTPUT_NAME: {0: "batch"}},
        )
    except (RuntimeError, ValueError, TypeError, torch.onnx.errors.OnnxExporterError) as error:
        raise ExportError(f"Cannot trace the detector to {fmt}: {error}") from error


def _probes(settings: InferenceSettings) -> list[torch.Tensor]:
    """Noise windows: 2 of the model's window length (at least its shortest input, 1 s
    by default), then 3 about 1.5 times as long (both dynamic axes)."""
    length = max(settings.window_samples or 0, settings.min_samples or 0,
                 settings.sample_rate if settings.window_policy != "official" else 64600)
    generator = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(rows, size, generator=generator)
            for rows, size in ((2, length), (3, length + length // 2 + 1234))]


def _check_graph(path, probes, expected, out_dir) -> None:
    """Loads the written file back and compares its logits with the detector's."""
    loaded = PortableSpoofDetector.from_file(path)
    for probe, logits in zip(probes, expected, strict=True):
        try:
            got = loaded.logits(list(probe))
        except Exception as error:  # noqa: BLE001  # ONNX Runtime's and TorchScript's own
            raise ExportError(
                f"The {path.suffix} export to '{out_dir}' fails on a batch of "
                f"{len(probe)} {probe.shape[1]}-sample windows: {str(error)[:200]}"
            ) from None
        difference = (float((got - logits).abs().max()) if got.shape == logits.shape
                      else float("inf"))
        if not difference <= TOLERANCE:
            raise ExportError(
                f"The {path.suffix} export to '{out_dir}' does not give the detector's logits "
                f"on {probe.shape[1]}-sample windows (they differ by {difference:.3g}): part of "
                "the detector does not trace with a dynamic length"
            )


def _sidecar(
    portable: PortableFile, settings: InferenceSettings, sha256: str, batch: str | int
) -> dict:
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    if settings.calibration is not None:
        values["calibration"] = settings.calibration.to_dict()
    meta = {
        "exported_by": f"{SIDECAR_MARK} {__version__}",
        "format": portable.format,
        "file": portable.file,
        "sha256": sha256,
        "input": {"name": INPUT_NAME, "shape": [batch, "time"], "dtype": "float32",
                  "sample_rate": settings.sample_rate},
        "output": {"name": OUTPUT_NAME, "shape": [batch, 2], "bonafide_index": 1},
        "settings": values,
    }
    if portable.format == "onnx":
        meta["opset"] = OPSET
    return meta


def _file_stem(name: str) -> str:
    """A file name from a model name (``my-org/LCNN v2`` -> ``my-org-LCNN-v2``).

    Example
    -------
    >>> _file_stem("my-org/LCNN v2")
    'my-org-LCNN-v2'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "detector"


__all__ = ["OPSET", "export_portable", "export_portable_run", "is_portable_export"]
