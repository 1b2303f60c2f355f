"""Result tables: each set's primary min t-DCF, and the multi-seed summary."""

from statistics import mean, stdev

from speechbrain_ssdctx.report import results_markdown, seeds_markdown


def report(eer, legacy=None, revised=None):
    out = {"eer_percent": eer, "bonafide": 10, "spoof": 90}
    if legacy is not None:
        out.update(min_tdcf_legacy=legacy, min_tdcf_revised=revised)
    return out


def rows(table: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in table.splitlines() if line.startswith("| ")]
    return {row[0]: row[1:] for row in cells}


def test_each_set_shows_its_primary_tdcf():
    table = rows(results_markdown({
        "2019LA_eval": report(1.9, legacy=0.055, revised=0.11),
        "2021LA_eval": report(3.2, legacy=0.2, revised=0.26),
        "2021DF_eval": report(20.0),
    }))
    assert table["2019 LA eval"][2:] == ["0.0550", "legacy"]
    assert table["2021 LA eval"][2:] == ["0.2600", "revised"]
    assert table["2021 DF eval"][2:] == ["-", "-"]


def test_seed_summary_matches_statistics():
    eers, tdcfs = [4.0, 4.5, 4.16], [0.10, 0.11, 0.112]
    runs = {seed: {"2019LA_eval": report(e, legacy=t, revised=0.3)}
            for seed, e, t in zip((1, 100, 1000), eers, tdcfs, strict=True)}
    table = rows(seeds_markdown(runs))
    assert table["mean"] == [f"{mean(eers):.3f}", f"{mean(tdcfs):.4f}"]
    assert table["std"] == [f"{stdev(eers):.3f}", f"{stdev(tdcfs):.4f}"]
    assert table["best"] == [f"{min(eers):.3f}", f"{min(tdcfs):.4f}"]
