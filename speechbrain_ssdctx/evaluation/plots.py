"""Figures for synthetic speech detection: DET curves, score histograms, t-SNE, band maps.

Every function returns a :class:`matplotlib.figure.Figure` (built without pyplot, so no
display is needed); :func:`save_figure` writes it as a PNG.

- :func:`plot_det`: detection error trade-off curves of one or more systems on normal
  deviate axes, from the official ASVspoof DET computation
  (:func:`speechbrain_ssdctx.evaluation.eer.compute_det_curve`), with the EER point marked.
- :func:`plot_score_histograms`: score densities per group (bona fide, each attack).
- :func:`plot_tsne`: a t-SNE map of detector embeddings of bona fide and spoofed
  utterances together with band-masked views of one utterance (the paper's Fig. 2:
  green = bona fide, blue = spoof, red = masked views).
- :func:`plot_benchmark`: the EER of each model on each test set with bootstrap
  intervals (``ssdctx-bench``).
- :func:`plot_band_map`: the band-sensitivity map
  (:func:`speechbrain_ssdctx.evaluation.band_map.band_sensitivity`): EER and mean score shift when
  one 2 kHz band is kept alone or removed.

Authors
 * speechbrain-ssdctx contributors 2025
"""

import os
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.stats import norm

from speechbrain_ssdctx.evaluation.eer import compute_det_curve, compute_eer

#: Error rates shown on DET axes (as fractions); the curve is clipped to this range.
DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
DET_LIMITS = (0.0005, 0.5)

#: Colours of the paper's Fig. 2.
TSNE_COLOURS = {"bonafide": "tab:green", "spoof": "tab:blue", "views": "tab:red"}


def plot_det(
    systems: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "DET curve"
) -> Figure:
    """Plots one DET curve per system on probit (normal deviate) axes.

    Each curve is the official ASVspoof DET curve (false acceptance rate of spoofed
    trials against false rejection rate of bona fide trials), its error rates clipped
    to ``DET_LIMITS`` and mapped through the inverse normal CDF. A marker shows the EER.

    Arguments
    ---------
    systems : mapping
        Legend name to ``(bonafide_scores, spoof_scores)``.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; line ``2 * i`` is the curve of system ``i``, line ``2 * i + 1`` its EER
        marker.

    Example
    -------
    >>> fig = plot_det({"toy": ([0.9, 0.8, 0.3], [0.1, 0.2, 0.5])})
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['toy (EER 33.33%)', '_eer_toy']
    """
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot()
    for name, (bonafide, spoof) in systems.items():
        frr, far, _ = compute_det_curve(bonafide, spoof)
        eer, _ = compute_eer(bonafide, spoof)
        (line,) = ax.plot(_probit(far), _probit(frr), label=f"{name} (EER {100 * eer:.2f}%)")
        ax.plot(_probit(eer), _probit(eer), "o", color=line.get_color(), label=f"_eer_{name}")
    ticks = _probit(np.array(DET_TICKS))
    labels = [f"{100 * tick:g}" for tick in DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(*_probit(np.array(DET_LIMITS)))
    ax.set_ylim(*_probit(np.array(DET_LIMITS)))
    ax.set_xlabel("False acceptance rate of spoofed speech (%)")
    ax.set_ylabel("False rejection rate of bona fide speech (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.4)
    ax.legend(loc="upper right")
    return fig


def plot_score_histograms(
    scores: Mapping[str, Sequence[float]],
    threshold: float | None = None,
    bins: int = 50,
    title: str = "Score distributions",
) -> Figure:
    """Plots the score density of each group (e.g. bona fide and every attack).

    All groups share the same bins (``bins`` equal bins over the range of all scores).

    Arguments
    ---------
    scores : mapping
        Group name (legend label) to its scores.
    threshold : float, optional
        A decision threshold drawn as a dashed vertical line.
    bins : int
        Number of bins.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one step-histogram patch per group, in ``scores`` order.

    Example
    -------
    >>> fig = plot_score_histograms({"bonafide": [2.0, 3.0], "A07": [-1.0, 0.5]}, threshold=1.0)
    >>> [patch.get_label() for patch in fig.axes[0].patches]
    ['bonafide (n=2)', 'A07 (n=2)']
    """
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    values = [np.asarray(group, dtype=float) for group in scores.values()]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=bins)
    for name, group in zip(scores, values, strict=True):
        ax.hist(group, bins=edges, density=True, histtype="step", label=f"{name} (n={group.size})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_xlabel("Score (higher = more likely bona fide)")
    ax.set_ylabel("Density")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def tsne_2d(embeddings: np.ndarray, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """Maps embeddings to 2-D with scikit-learn's t-SNE (PCA initialisation).

    Arguments
    ---------
    embeddings : np.ndarray
        ``[N, D]`` embeddings, ``N >= 3``.
    seed : int
        Random state of t-SNE.
    perplexity : float, optional
        Default: ``min(30, (N - 1) / 3)`` (t-SNE needs it below ``N``).

    Returns
    -------
    np.ndarray
        ``[N, 2]`` coordinates.
    """
    from sklearn.manifold import TSNE

    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] < 3:
        raise ValueError(f"t-SNE needs [N >= 3, D] embeddings, got shape {embeddings.shape}")
    if perplexity is None:
        perplexity = min(30.0, (embeddings.shape[0] - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(embeddings)


def plot_tsne(
    embeddings: np.ndarray,
    is_bonafide: Sequence[bool],
    view_embeddings: np.ndarray,
    views_label: str = "masked views",
    seed: int = 0,
    title: str = "t-SNE of detector embeddings",
) -> Figure:
    """The paper's Fig. 2: t-SNE of utterances and of masked views of one utterance.

    All embeddings are mapped together, then drawn as three scatter collections:
    bona fide (green), spoof (blue) and the views (red).

    Arguments
    ---------
    embeddings : np.ndarray
        ``[N, D]`` embeddings of the utterances.
    is_bonafide : sequence of bool
        Label of each utterance.
    view_embeddings : np.ndarray
        ``[M, D]`` embeddings of the masked views.
    views_label : str
        Legend label of the views.
    seed : int
        Random state of t-SNE.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes whose collections are bona fide, spoof and views, in that order.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_tsne(rng.normal(size=(8, 4)), [True] * 4 + [False] * 4,
    ...                 rng.normal(size=(3, 4)))
    >>> [len(c.get_offsets()) for c in fig.axes[0].collections]
    [4, 4, 3]
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    view_embeddings = np.asarray(view_embeddings, dtype=np.float64)
    is_bonafide = np.asarray(is_bonafide, dtype=bool)
    if is_bonafide.shape != (embeddings.shape[0],):
        raise ValueError(f"{is_bonafide.size} labels for {embeddings.shape[0]} embeddings")
    points = tsne_2d(np.concatenate([embeddings, view_embeddings]), seed=seed)
    utterances, views = points[: len(embeddings)], points[len(embeddings) :]
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    groups = (
        ("bonafide", utterances[is_bonafide], f"bona fide (n={is_bonafide.sum()})"),
        ("spoof", utterances[~is_bonafide], f"spoof (n={(~is_bonafide).sum()})"),
        ("views", views, f"{views_label} (n={len(views)})"),
    )
    for key, xy, label in groups:
        marker = "*" if key == "views" else "o"
        size = 60 if key == "views" else 12
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c=TSNE_COLOURS[key], marker=marker, label=label)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def masked_views(wav: torch.Tensor, num_views: int, masking: torch.nn.Module) -> torch.Tensor:
    """``num_views`` band-masked copies of one waveform, each with its own random band.

    Arguments
    ---------
    wav : torch.Tensor
        1-D waveform.
    num_views : int
        Number of views.
    masking : torch.nn.Module
        A :class:`speechbrain_ssdctx.method.masking.BandPassMasking` (or any module with its
        ``forward(waveforms, lengths) -> (masked, lengths)`` signature).

    Returns
    -------
    torch.Tensor
        ``[num_views, time]``.
    """
    with torch.no_grad():
        return masking(wav.unsqueeze(0).expand(num_views, -1).contiguous())[0]


def plot_band_map(result, title: str = "Band sensitivity") -> Figure:
    """Plots a band-sensitivity map: EER (top) and mean score shift (bottom) per band.

    Each band is drawn at its centre frequency, with the band's extent as a horizontal
    error bar; the dashed line is the EER of the clean utterances.

    Arguments
    ---------
    result : speechbrain_ssdctx.evaluation.band_map.BandSensitivity
        The map.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (EER, score shift); each has a curve for "band kept" and one for
        "band removed", and a dashed reference line.

    Example
    -------
    >>> from speechbrain_ssdctx.evaluation.band_map import BandResult, BandSensitivity
    >>> band = BandResult(160, 2160, 40.0, 5.0, -2.0, -0.1, -2.5, -1.5, 0.0, -0.2)
    >>> fig = plot_band_map(BandSensitivity(4.0, [band]))
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['clean (4.0%)', 'only this band kept', 'this band removed']
    """
    bands = result.bands
    centres = np.array([(b.low + b.high) / 2 for b in bands]) / 1000
    half = np.array([(b.high - b.low) / 2 for b in bands]) / 1000
    fig = Figure(figsize=(7, 6))
    eer_ax, shift_ax = fig.subplots(2, 1, sharex=True)
    for ax, kept, removed, label in (
        (eer_ax, [b.eer_kept for b in bands], [b.eer_removed for b in bands], "EER (%)"),
        (shift_ax, [b.shift_kept for b in bands], [b.shift_removed for b in bands],
         "Mean score shift"),
    ):
        ax.errorbar(centres, kept, xerr=half, fmt="o-", capsize=3, label="only this band kept")
        ax.errorbar(centres, removed, xerr=half, fmt="s-", capsize=3, label="this band removed")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.4)
    eer_ax.axhline(result.clean_eer, color="black", linestyle="--",
                   label=f"clean ({result.clean_eer:.1f}%)")
    shift_ax.axhline(0.0, color="black", linestyle="--", label="no shift")
    eer_ax.legend(fontsize="small")
    shift_ax.set_xlabel("Band centre (kHz); bars show the 2 kHz band")
    fig.suptitle(title)
    return fig


def plot_benchmark(table: Mapping[str, Mapping], title: str = "EER per test set") -> Figure:
    """Bars of the EER of each model on each test set, with their bootstrap intervals.

    Arguments
    ---------
    table : mapping
        ``speechbrain_ssdctx.evaluation.benchmark.Benchmark.results``: per model, ``sets``
        (per set ``title`` and ``eer`` with ``estimate``, ``low``, ``high``).
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one bar container per model.

    Example
    -------
    >>> cell = {"title": "S", "eer": {"estimate": 2.0, "low": 1.0, "high": 3.0}}
    >>> fig = plot_benchmark({"a": {"sets": {"s": cell}}, "b": {"sets": {"s": cell}}})
    >>> len(fig.axes[0].containers) >= 2
    True
    """
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    models = list(table)
    sets = list(next(iter(table.values()))["sets"]) if table else []
    width = 0.8 / max(len(models), 1)
    positions = np.arange(len(sets))
    for index, model in enumerate(models):
        rows = [table[model]["sets"][name]["eer"] for name in sets]
        values = np.array([row["estimate"] for row in rows])
        errors = np.array([[v - row["low"], row["high"] - v] for v, row in zip(values, rows,
                                                                               strict=True)])
        ax.bar(positions + (index - (len(models) - 1) / 2) * width, values, width,
               yerr=errors.T.reshape(2, -1), capsize=3, label=model)
    labels = [next(iter(table.values()))["sets"][name]["title"] for name in sets]
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set_ylabel("EER (%)")
    ax.set_title(title)
    ax.legend()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> pathlib.Path:
    """Writes a figure as a PNG (creating the folder) and returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi, bbox_inches="tight")
    return path


def _probit(rates: np.ndarray | float) -> np.ndarray:
    """Normal deviates of error rates, clipped to ``DET_LIMITS`` (DET axis scale)."""
    return norm.ppf(np.clip(rates, *DET_LIMITS))
