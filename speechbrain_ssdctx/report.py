"""Result tables: one run's ``results.json`` / ``results.md`` and the multi-seed summary.

A run's results map a test-set name to the report ``speechbrain_ssdctx.metrics`` makes
for it (``eer_percent``, ``eer_threshold``, ``bonafide``, ``spoof``, optional
``min_tdcf_legacy`` / ``min_tdcf_revised`` and ``per_<name>_eer_percent`` breakdowns).
Each set has a primary t-DCF, as in the ASVspoof challenges and the paper: the legacy
(2019) form for 2019 LA, the revised form for 2021 LA, none for 2021 DF.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from speechbrain_ssdctx.atomic import atomic_open

# Display order, titles and primary t-DCF form of the test sets the recipes know.
SET_TITLES = {
    "dev": "2019 LA dev",
    "2019LA_eval": "2019 LA eval",
    "2021LA_eval": "2021 LA eval",
    "2021DF_eval": "2021 DF eval",
}
# A run on the bundled demo corpus (recipes without --data_folder) has the layout of
# 2019 LA but none of its data: its sets are called what they are.
DEMO_SET_TITLES = {"dev": "demo dev", "2019LA_eval": "demo eval"}
PRIMARY_TDCF = {"dev": "legacy", "2019LA_eval": "legacy", "2021LA_eval": "revised"}


def set_title(name: str, demo: bool = False) -> str:
    """The title of a set in tables: ``"2019 LA eval"``, or ``"demo eval"`` for a demo run.

    Example
    -------
    >>> set_title("2019LA_eval"), set_title("2019LA_eval", demo=True)
    ('2019 LA eval', 'demo eval')
    """
    if demo and name in DEMO_SET_TITLES:
        return DEMO_SET_TITLES[name]
    return SET_TITLES.get(name, name)


def _ordered(names) -> list[str]:
    known = [n for n in SET_TITLES if n in names]
    return known + sorted(n for n in names if n not in SET_TITLES)


def primary_tdcf(name: str, report: dict) -> float | None:
    """The set's primary min t-DCF (legacy for 2019 LA, revised for 2021 LA), if computed."""
    form = PRIMARY_TDCF.get(name)
    return None if form is None else report.get(f"min_tdcf_{form}")


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def results_markdown(results: dict[str, dict], demo: bool = False) -> str:
    """Markdown tables of one run: a summary row per set, then each set's breakdowns.

    ``demo``: the run used the bundled demo corpus (its sets are titled demo sets).

    Example
    -------
    >>> report = {"eer_percent": 5.0, "bonafide": 4, "spoof": 8,
    ...           "per_attack_eer_percent": {"A01": 2.5}}
    >>> print(results_markdown({"dev": report}))
    | set | trials (bona fide / spoof) | EER (%) | min t-DCF | form |
    |---|---|---|---|---|
    | 2019 LA dev | 4 / 8 | 5.000 | - | - |
    <BLANKLINE>
    ### 2019 LA dev: EER (%) per attack
    <BLANKLINE>
    | attack | EER (%) |
    |---|---|
    | A01 | 2.500 |
    <BLANKLINE>
    """
    lines = [
        "| set | trials (bona fide / spoof) | EER (%) | min t-DCF | form |",
        "|---|---|---|---|---|",
    ]
    for name in _ordered(results):
        r = results[name]
        tdcf = primary_tdcf(name, r)
        form = "-" if tdcf is None else PRIMARY_TDCF[name]
        lines.append(
            f"| {set_title(name, demo)} | {r['bonafide']} / {r['spoof']} | {r['eer_percent']:.3f} "
            f"| {_cell(tdcf, 4)} | {form} |"
        )
    lines.append("")
    for name in _ordered(results):
        for key, table in results[name].items():
            if not (key.startswith("per_") and key.endswith("_eer_percent")) or not table:
                continue
            what = key[len("per_") : -len("_eer_percent")]
            lines += [f"### {set_title(name, demo)}: EER (%) per {what}", "",
                      f"| {what} | EER (%) |",
                      "|---|---|"]
            lines += [f"| {k} | {v:.3f} |" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


def write_results(results: dict[str, dict], folder: str | Path, demo: bool = False) -> None:
    """Writes ``results.json`` and ``results.md`` into ``folder`` (atomically); ``demo``:
    the run used the bundled demo corpus."""
    folder = Path(folder)
    with atomic_open(folder / "results.json") as stream:
        json.dump(results, stream, indent=1, sort_keys=True)
    with atomic_open(folder / "results.md") as stream:
        stream.write(results_markdown(results, demo))


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return mean, math.sqrt(var)


def seeds_markdown(per_seed: dict[int, dict[str, dict]], demo: bool = False) -> str:
    """The multi-seed table, shaped like the paper's Table 1 (EER % / min t-DCF per set).

    ``demo``: the runs used the bundled demo corpus (its sets are titled demo sets).

    One row per seed, then the mean, the sample standard deviation and the best (lowest)
    value of every metric.

    Example
    -------
    >>> runs = {1: {"dev": {"eer_percent": 2.0}}, 100: {"dev": {"eer_percent": 4.0}}}
    >>> print(seeds_markdown(runs))
    | seed | 2019 LA dev EER (%) |
    |---|---|
    | 1 | 2.000 |
    | 100 | 4.000 |
    | mean | 3.000 |
    | std | 1.414 |
    | best | 2.000 |
    """
    sets = _ordered({name for run in per_seed.values() for name in run})
    columns = []  # (title, digits, value getter)
    for name in sets:
        columns.append((f"{set_title(name, demo)} EER (%)", 3,
                        lambda run, n=name: run.get(n, {}).get("eer_percent")))
        if any(primary_tdcf(name, run.get(name, {})) is not None for run in per_seed.values()):
            columns.append((f"{set_title(name, demo)} min t-DCF", 4,
                            lambda run, n=name: primary_tdcf(n, run.get(n, {}))))
    values = {seed: [get(per_seed[seed]) for _, _, get in columns] for seed in sorted(per_seed)}
    lines = ["| seed | " + " | ".join(c[0] for c in columns) + " |",
             "|" + "---|" * (len(columns) + 1)]
    for seed, row in values.items():
        cells = [_cell(v, c[1]) for v, c in zip(row, columns, strict=True)]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    summaries = {"mean": lambda v: _mean_std(v)[0], "std": lambda v: _mean_std(v)[1],
                 "best": min}
    for label, reduce in summaries.items():
        cells = []
        for i, column in enumerate(columns):
            present = [row[i] for row in values.values() if row[i] is not None]
            cells.append(_cell(reduce(present) if present else None, column[1]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
