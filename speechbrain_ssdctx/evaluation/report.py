"""Rendering evaluation reports: one renderer for every table the project prints.

A report is the dict ``speechbrain_ssdctx.evaluation.evaluate`` makes for one test set
(``eer``, ``eer_threshold``, ``min_dcf``, ``act_dcf``, ``cllr``, ``min_cllr``,
``bonafide``, ``spoof``, optional ``min_tdcf_legacy`` / ``min_tdcf_revised``,
``act_dcf_calibrated`` / ``cllr_calibrated``, ``bootstrap`` intervals and
``per_<name>`` breakdowns; for ASVspoof 5 Track 2: ``a_dcf``, ``min_tdcf``, ``t_eer``).
``results_markdown`` renders a mapping of set name to report as Markdown: what
``ssdctx-eval`` and ``ssdctx-score`` print, a run's ``results.md`` and the model
card's table. Sets are titled and ordered as the registry of corpora
(``speechbrain_ssdctx.data.corpora``) says. A run on the bundled demo corpus has the layout
of 2019 LA but none of its data: with ``demo=True`` its sets are titled demo sets. Each
set has a primary t-DCF, as in the ASVspoof challenges and the paper: the legacy (2019)
form where it was computed (2019 LA, with the organisers' ASV scores), else the revised
form (2021 LA), else none.
``seeds_markdown`` renders the multi-seed summary of ``recipes/run_seeds.py``.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from speechbrain_ssdctx.data.corpora import CORPORA, DEMO, find_set, get_corpus
from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = [
    "METRIC_NOTE",
    "primary_tdcf",
    "results_markdown",
    "seeds_markdown",
    "set_title",
    "write_results",
]

#: What the ASVspoof 5 columns mean, printed under every table that has them.
METRIC_NOTE = (
    "minDCF, actDCF, Cllr: ASVspoof 5 Track 1 definitions (Pspoof 0.05, Cmiss 1, Cfa 10; "
    "normalised). actDCF decides at the Bayes threshold -ln(1.9) and Cllr reads scores as "
    "natural-log likelihood ratios: on raw detector scores they include the calibration "
    "loss (see the calibrated columns and Cllr-min, the loss left after an ideal "
    "monotonic calibration)."
)

#: Columns of breakdown tables: report key, header, digits.
_BREAKDOWN_COLUMNS = (
    ("eer", "EER (%)", 3),
    ("min_dcf", "minDCF", 4),
    ("act_dcf", "actDCF", 4),
    ("cllr", "Cllr", 4),
    ("min_tdcf_revised", "min t-DCF", 4),
    ("a_dcf", "a-DCF", 4),
    ("min_tdcf", "min t-DCF", 4),
    ("t_eer", "t-EER (%)", 3),
)


def set_title(name: str, demo: bool = False) -> str:
    """The title of a set in tables: ``"2019 LA eval"``, or ``"demo eval"`` for a demo run.

    The registry of corpora gives it (the demo corpus's titles first for a demo run); a
    set no corpus names (a score file, a labelled CSV's set) keeps its name.

    Example
    -------
    >>> set_title("2019LA_eval"), set_title("2019LA_eval", demo=True), set_title("x.txt")
    ('2019 LA eval', 'demo eval', 'x.txt')
    """
    found = find_set(name, first=get_corpus(DEMO) if demo else None)
    return found[0].set_title(found[1]) if found else name


def _title(name: str, report: Mapping | None = None, demo: bool = False) -> str:
    """The report's own ``title`` (e.g. "ASVspoof 5 dev"), else ``set_title``."""
    if report is not None and report.get("title"):
        return str(report["title"])
    return set_title(name, demo)


def _ordered(names) -> list[str]:
    """The sets the registry names, in its order, then the others sorted."""
    order = [s.name for corpus in CORPORA.values() for s in corpus.sets
             if s.scored and not corpus.per_file]
    known = [n for n in dict.fromkeys(order) if n in names]
    return known + sorted(n for n in names if n not in known)


def primary_tdcf(report: Mapping) -> tuple[float | None, str]:
    """The set's primary min t-DCF and its form: legacy if computed (2019 LA), else revised.

    Example
    -------
    >>> primary_tdcf({"min_tdcf_legacy": 0.05, "min_tdcf_revised": 0.1})
    (0.05, 'legacy')
    >>> primary_tdcf({"eer": 1.0})
    (None, '-')
    """
    for form in ("legacy", "revised"):
        if f"min_tdcf_{form}" in report:
            return report[f"min_tdcf_{form}"], form
    return None, "-"


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(entry: Mapping | None, digits: int) -> str:
    if not entry:
        return "-"
    return f"[{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _cm_summary(results: Mapping[str, Mapping], names: list[str], demo: bool) -> list[str]:
    calibrated = any("act_dcf_calibrated" in results[n] for n in names)
    bootstrap = next((results[n]["bootstrap"] for n in names if "bootstrap" in results[n]), None)
    header = ["set", "trials (bona fide / spoof)", "EER (%)", "min t-DCF", "form", "minDCF",
              "actDCF", "Cllr", "Cllr-min"]
    if calibrated:
        header += ["actDCF (calibrated)", "Cllr (calibrated)"]
    if bootstrap:
        level = round(100 * bootstrap["eer"]["confidence"])
        header += [f"EER {level}% CI", f"minDCF {level}% CI", f"min t-DCF {level}% CI"]
    rows = []
    for name in names:
        r = results[name]
        tdcf, form = primary_tdcf(r)
        row = [_title(name, r, demo), f"{r['bonafide']} / {r['spoof']}", _cell(r["eer"], 3),
               _cell(tdcf, 4), form, _cell(r.get("min_dcf"), 4), _cell(r.get("act_dcf"), 4),
               _cell(r.get("cllr"), 4), _cell(r.get("min_cllr"), 4)]
        if calibrated:
            row += [_cell(r.get("act_dcf_calibrated"), 4), _cell(r.get("cllr_calibrated"), 4)]
        if bootstrap:
            ci = r.get("bootstrap", {})
            row += [_interval(ci.get("eer"), 3), _interval(ci.get("min_dcf"), 4),
                    _interval(ci.get("min_tdcf"), 4)]
        rows.append(row)
    lines = _table(header, rows) + ["", METRIC_NOTE]
    if bootstrap:
        grouped = f", resampling whole {bootstrap['group_by']} groups" if bootstrap[
            "group_by"] else ""
        lines.append(
            f"Intervals: percentile bootstrap, {bootstrap['resamples']} resamples of the "
            f"trials{grouped}."
        )
    return lines + [""]


def _sasv_summary(results: Mapping[str, Mapping], names: list[str]) -> list[str]:
    header = ["set", "trials (target / nontarget / spoof)", "a-DCF", "min t-DCF", "t-EER (%)"]
    rows = [
        [_title(n, results[n]),
         f"{results[n]['target']} / {results[n]['nontarget']} / {results[n]['spoof']}",
         _cell(results[n]["a_dcf"], 4), _cell(results[n].get("min_tdcf"), 4),
         _cell(results[n].get("t_eer"), 3)]
        for n in names
    ]
    note = ("ASVspoof 5 Track 2: a-DCF and min t-DCF with the official costs and the "
            "organisers' ASV error rates; t-EER: the concurrent tandem EER.")
    return _table(header, rows) + ["", note, ""]


def _breakdowns(name: str, report: Mapping, demo: bool) -> list[str]:
    lines = []
    for key, table in report.items():
        if not key.startswith("per_") or not isinstance(table, Mapping) or not table:
            continue
        what = key[len("per_") :]
        present = [c for c in _BREAKDOWN_COLUMNS if any(c[0] in row for row in table.values())]
        rows = [[group] + [_cell(row.get(k), d) for k, _, d in present]
                for group, row in table.items()]
        lines += [f"### {_title(name, report, demo)}: per {what}", ""]
        lines += _table([what] + [h for _, h, _ in present], rows) + [""]
    return lines


def _comparison(name: str, report: Mapping, demo: bool) -> list[str]:
    compare = report.get("comparison")
    if not compare:
        return []
    diff = compare["eer_difference"]
    level = round(100 * diff["confidence"])
    return [
        f"### {_title(name, report, demo)}: paired comparison with {compare['other']}",
        "",
        f"EER {compare['eer_a']:.3f}% (this) vs {compare['eer_b']:.3f}% (other): difference "
        f"{diff['estimate']:+.3f} points, {level}% CI [{diff['low']:+.3f}, {diff['high']:+.3f}] "
        f"({compare['resamples']} paired resamples); lower EER in {100 * compare['a_better']:.1f}%"
        f" of them for this system, {100 * compare['b_better']:.1f}% for the other.",
        "",
    ]


def results_markdown(results: Mapping[str, Mapping], demo: bool = False) -> str:
    """Markdown tables of evaluation reports: a summary row per set, then breakdowns.

    ``demo``: the run used the bundled demo corpus (its sets are titled demo sets).

    Example
    -------
    >>> report = {"eer": 5.0, "bonafide": 4, "spoof": 8, "min_dcf": 0.2, "act_dcf": 0.5,
    ...           "cllr": 0.9, "min_cllr": 0.3, "per_attack": {"A01": {"eer": 2.5}}}
    >>> print(results_markdown({"dev": report}))
    | set | trials (bona fide / spoof) | EER (%) | min t-DCF | form | minDCF | ... | Cllr-min |
    |---|---|---|---|---|---|---|---|---|
    | 2019 LA dev | 4 / 8 | 5.000 | - | - | 0.2000 | 0.5000 | 0.9000 | 0.3000 |
    <BLANKLINE>
    minDCF, actDCF, Cllr: ASVspoof 5 Track 1 definitions ...
    <BLANKLINE>
    ### 2019 LA dev: per attack
    <BLANKLINE>
    | attack | EER (%) |
    |---|---|
    | A01 | 2.500 |
    <BLANKLINE>
    """
    names = _ordered(results)
    sasv = [n for n in names if "a_dcf" in results[n]]
    cm = [n for n in names if n not in sasv]
    lines = []
    if cm:
        lines += _cm_summary(results, cm, demo)
    if sasv:
        lines += _sasv_summary(results, sasv)
    for name in names:
        lines += _breakdowns(name, results[name], demo) + _comparison(name, results[name], demo)
    return "\n".join(lines)


def write_results(results: Mapping[str, Mapping], folder: str | Path, demo: bool = False) -> None:
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


def seeds_markdown(
    per_seed: Mapping[int, Mapping[str, Mapping]],
    pooled: Mapping[str, Mapping[str, Mapping]] | None = None,
    demo: bool = False,
) -> str:
    """The multi-seed table, shaped like the paper's Table 1 (EER % / min t-DCF per set).

    ``demo``: the runs used the bundled demo corpus (its sets are titled demo sets).

    One row per seed, then the mean ± sample standard deviation, the pooled interval
    (``pooled[set][metric]``, from ``bootstrap.pooled_seed_interval``: seeds and test
    trials resampled together) and the best (lowest) value of every metric.

    Example
    -------
    >>> runs = {1: {"dev": {"eer": 2.0}}, 100: {"dev": {"eer": 4.0}}}
    >>> print(seeds_markdown(runs, {"dev": {"eer": {"low": 1.5, "high": 4.5,
    ...                                             "confidence": 0.95}}}))
    | seed | 2019 LA dev EER (%) |
    |---|---|
    | 1 | 2.000 |
    | 100 | 4.000 |
    | mean ± std | 3.000 ± 1.414 |
    | pooled 95% CI | [1.500, 4.500] |
    | best | 2.000 |
    """
    sets = _ordered({name for run in per_seed.values() for name in run})
    columns = []  # (title, digits, value getter, pooled metric)
    for name in sets:
        reports = [run.get(name, {}) for run in per_seed.values()]
        title = _title(name, next((r for r in reports if r), None), demo)
        columns.append((f"{title} EER (%)", 3, lambda run, n=name: run.get(n, {}).get("eer"),
                        (name, "eer")))
        if any(primary_tdcf(r)[0] is not None for r in reports):
            columns.append((f"{title} min t-DCF", 4,
                            lambda run, n=name: primary_tdcf(run.get(n, {}))[0], None))
        if any("min_dcf" in r for r in reports):
            columns.append((f"{title} minDCF", 4,
                            lambda run, n=name: run.get(n, {}).get("min_dcf"),
                            (name, "min_dcf")))
    values = {seed: [get(per_seed[seed]) for _, _, get, _ in columns] for seed in sorted(per_seed)}
    rows = [[str(seed)] + [_cell(v, c[1]) for v, c in zip(row, columns, strict=True)]
            for seed, row in values.items()]
    summary = {"mean ± std": [], "best": []}
    for i, (_, digits, _, _) in enumerate(columns):
        present = [row[i] for row in values.values() if row[i] is not None]
        if present:
            mean, std = _mean_std(present)
            summary["mean ± std"].append(f"{mean:.{digits}f} ± {std:.{digits}f}")
            summary["best"].append(_cell(min(present), digits))
        else:
            summary["mean ± std"].append("-")
            summary["best"].append("-")
    rows.append(["mean ± std", *summary["mean ± std"]])
    if pooled:
        level = next(
            (round(100 * m["confidence"]) for p in pooled.values() for m in p.values()), 95
        )
        cells = []
        for _, digits, _, key in columns:
            entry = None if key is None else pooled.get(key[0], {}).get(key[1])
            cells.append(_interval(entry, digits))
        rows.append([f"pooled {level}% CI", *cells])
    rows.append(["best", *summary["best"]])
    return "\n".join(_table(["seed"] + [c[0] for c in columns], rows))
