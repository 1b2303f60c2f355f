"""Robustness of a detector to codecs and channels: a test set scored clean and degraded.

Each condition is ``clean`` or a :class:`~speechbrain_ssdctx.augment.CodecSetting`
(``mp3:32``, ``opus``, ``telephone``). An utterance's degradation depends only on its id
and the condition (:func:`condition_seed`, a SHA-256, not Python's salted ``hash``), so a
table is reproducible, a condition can be rescored alone, and all conditions see the same
draws whatever their order. :func:`condition_metrics` gives EER and minDCF with bootstrap
intervals (:func:`~speechbrain_ssdctx.evaluation.bootstrap.bootstrap_metrics`),
:func:`robustness_markdown` the table and :func:`plot_robustness` the figure.
``ssdctx-robustness`` (:mod:`speechbrain_ssdctx.cli.robustness`) runs it all.

Authors
 * speechbrain-ssdctx contributors 2026
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from speechbrain_ssdctx.augment.codec import CodecAugment, CodecSetting
from speechbrain_ssdctx.evaluation.bootstrap import Interval, bootstrap_metrics

__all__ = [
    "CLEAN",
    "condition_metrics",
    "condition_seed",
    "degrade",
    "parse_conditions",
    "plot_robustness",
    "robustness_markdown",
]

#: The name of the undegraded condition.
CLEAN = "clean"


def parse_conditions(text: str) -> list[str]:
    """Reads ``clean,mp3:32,opus,...`` (``clean`` first, added if absent; each checked).

    Example
    -------
    >>> parse_conditions("mp3:32, telephone")
    ['clean', 'mp3:32', 'telephone']
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name != CLEAN:
            CodecSetting.parse(name)
    if len(set(names)) != len(names):
        raise ValueError(f"conditions are listed twice in {text!r}")
    return [CLEAN] + [name for name in names if name != CLEAN]


def condition_seed(utterance_id: str, condition: str) -> int:
    """A seed from an utterance id and a condition, the same in every process and run.

    Example
    -------
    >>> condition_seed("LA_E_1", "mp3:32") == condition_seed("LA_E_1", "mp3:32")
    True
    >>> condition_seed("LA_E_1", "mp3:32") != condition_seed("LA_E_2", "mp3:32")
    True
    """
    digest = hashlib.sha256(f"{condition}\0{utterance_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def degrade(wav: torch.Tensor, sample_rate: int, utterance_id: str, condition: str) -> torch.Tensor:
    """One utterance ``[time]`` under a condition (deterministic per utterance and condition).

    Example
    -------
    >>> wav = 0.1 * torch.randn(4000, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(degrade(wav, 16000, "a", "clean"), wav)
    True
    >>> torch.equal(degrade(wav, 16000, "a", "mp3:8-64"), degrade(wav, 16000, "a", "mp3:8-64"))
    True
    """
    if condition == CLEAN:
        return wav
    augment = CodecAugment(
        [condition], sample_rate=sample_rate, seed=condition_seed(utterance_id, condition)
    )
    return augment(wav.unsqueeze(0))[0]


def condition_metrics(
    scores: Mapping[str, float],
    labels: Mapping[str, bool],
    num_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Interval]:
    """EER (%) and minDCF with their bootstrap intervals, for the scored utterances.

    Arguments
    ---------
    scores : mapping
        Utterance id to score.
    labels : mapping
        Utterance id to True for bona fide.
    num_resamples : int
        Bootstrap replicates.
    seed : int
        Seed of the resampling.

    Example
    -------
    >>> ci = condition_metrics({"a": 2.0, "b": 1.0, "c": 0.0}, {"a": True, "b": False, "c": False},
    ...                        num_resamples=10)
    >>> ci["eer"].estimate
    0.0
    """
    ids = sorted(scores)
    return bootstrap_metrics(
        [scores[i] for i in ids], [labels[i] for i in ids], num_resamples=num_resamples, seed=seed
    )


def robustness_markdown(results: Mapping[str, Mapping[str, Interval]]) -> str:
    """The table: a row per condition, EER (%) and minDCF with their intervals.

    Example
    -------
    >>> row = {"eer": Interval(5.0, 3.0, 7.0, 1.0, 0.95),
    ...        "min_dcf": Interval(0.1, 0.05, 0.2, 0.04, 0.95)}
    >>> print(robustness_markdown({"clean": row}).splitlines()[2])
    | clean | 5.00 [3.00, 7.00] | 0.1000 [0.0500, 0.2000] |
    """
    confidence = next(iter(results.values()))["eer"].confidence
    lines = [
        f"| condition | EER % [{confidence:.0%} CI] | minDCF [{confidence:.0%} CI] |",
        "|---|---|---|",
    ]
    for name, metrics in results.items():
        eer, dcf = metrics["eer"], metrics["min_dcf"]
        lines.append(
            f"| {name} | {eer.estimate:.2f} [{eer.low:.2f}, {eer.high:.2f}] | "
            f"{dcf.estimate:.4f} [{dcf.low:.4f}, {dcf.high:.4f}] |"
        )
    return "\n".join(lines) + "\n"


def plot_robustness(
    results: Mapping[str, Mapping[str, Interval]], title: str = "Robustness"
) -> Figure:
    """EER and minDCF per condition with their intervals (two panels, error bars).

    Example
    -------
    >>> row = {"eer": Interval(5.0, 3.0, 7.0, 1.0, 0.95),
    ...        "min_dcf": Interval(0.1, 0.05, 0.2, 0.04, 0.95)}
    >>> len(plot_robustness({"clean": row, "gsm": row}).axes)
    2
    """
    names: Sequence[str] = list(results)
    fig = Figure(figsize=(max(5.0, 0.9 * len(names) + 2), 6.0))
    axes = fig.subplots(2, 1, sharex=True)
    positions = np.arange(len(names))
    for ax, metric, label in zip(axes, ("eer", "min_dcf"), ("EER (%)", "minDCF"), strict=True):
        values = [results[name][metric] for name in names]
        estimates = np.array([value.estimate for value in values])
        errors = np.array([[e - v.low for e, v in zip(estimates, values, strict=True)],
                           [v.high - e for e, v in zip(estimates, values, strict=True)]])
        ax.bar(positions, estimates, color="tab:blue", alpha=0.6)
        ax.errorbar(positions, estimates, yerr=np.maximum(errors, 0), fmt="none", ecolor="k",
                    capsize=4)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(positions, names, rotation=30, ha="right")
    axes[0].set_title(title)
    return fig
