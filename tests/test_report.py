"""Result tables: each set's primary min t-DCF, the ASVspoof 5 columns, the seed summary."""

from statistics import mean, stdev

from speechbrain_ssdctx.evaluation.report import METRIC_NOTE, results_markdown, seeds_markdown


def report(eer, legacy=None, revised=None, **extra):
    out = {"eer": eer, "bonafide": 10, "spoof": 90, "min_dcf": 0.1, "act_dcf": 0.5,
           "cllr": 0.8, "min_cllr": 0.3, **extra}
    if legacy is not None:
        out["min_tdcf_legacy"] = legacy
    if revised is not None:
        out["min_tdcf_revised"] = revised
    return out


def rows(table: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in table.splitlines() if line.startswith("| ")]
    return {row[0]: row[1:] for row in cells}


def test_each_set_shows_its_primary_tdcf_and_the_asvspoof5_columns():
    text = results_markdown({
        "2019LA_eval": report(1.9, legacy=0.055, revised=0.11),
        "2021LA_eval": report(3.2, revised=0.26),
        "2021DF_eval": report(20.0),
        "InTheWild": report(30.0, act_dcf_calibrated=0.3, cllr_calibrated=0.6),
    })
    table = rows(text)
    assert table["set"][2:8] == ["min t-DCF", "form", "minDCF", "actDCF", "Cllr", "Cllr-min"]
    assert table["2019 LA eval"][2:4] == ["0.0550", "legacy"]
    assert table["2021 LA eval"][2:4] == ["0.2600", "revised"]
    assert table["2021 DF eval"][2:4] == ["-", "-"]
    assert table["In-the-Wild"][4:10] == ["0.1000", "0.5000", "0.8000", "0.3000", "0.3000",
                                          "0.6000"]
    assert table["2021 DF eval"][8:10] == ["-", "-"]  # not calibrated
    assert METRIC_NOTE in text


def test_track2_and_breakdown_tables():
    sasv = {"trials": 6, "target": 2, "nontarget": 2, "spoof": 2, "a_dcf": 0.25,
            "min_tdcf": 0.5, "t_eer": 12.5, "per_attack": {"A17": {"a_dcf": 0.1, "t_eer": 2.0}}}
    text = results_markdown({"sasv.tsv": sasv, "dev": report(5.0, per_codec={
        "C01": {"eer": 4.0, "min_dcf": 0.2, "act_dcf": 0.3, "cllr": 0.9}})})
    table = rows(text)
    assert table["sasv.tsv"] == ["2 / 2 / 2", "0.2500", "0.5000", "12.500"]
    assert table["C01"] == ["4.000", "0.2000", "0.3000", "0.9000"]
    assert table["A17"] == ["0.1000", "2.000"]
    assert "### 2019 LA dev: per codec" in text and "### sasv.tsv: per attack" in text


def test_seed_summary_matches_statistics():
    eers, tdcfs, dcfs = [4.0, 4.5, 4.16], [0.10, 0.11, 0.112], [0.2, 0.3, 0.25]
    runs = {seed: {"2019LA_eval": {"eer": e, "min_tdcf_legacy": t, "min_dcf": d}}
            for seed, e, t, d in zip((1, 100, 1000), eers, tdcfs, dcfs, strict=True)}
    pooled = {"2019LA_eval": {"eer": {"low": 3.5, "high": 5.25, "confidence": 0.9},
                              "min_dcf": {"low": 0.15, "high": 0.35, "confidence": 0.9}}}
    table = rows(seeds_markdown(runs, pooled))
    assert table["seed"] == ["2019 LA eval EER (%)", "2019 LA eval min t-DCF",
                             "2019 LA eval minDCF"]
    assert table["mean ± std"] == [f"{mean(eers):.3f} ± {stdev(eers):.3f}",
                                   f"{mean(tdcfs):.4f} ± {stdev(tdcfs):.4f}",
                                   f"{mean(dcfs):.4f} ± {stdev(dcfs):.4f}"]
    assert table["pooled 90% CI"] == ["[3.500, 5.250]", "-", "[0.1500, 0.3500]"]
    assert table["best"] == [f"{min(eers):.3f}", f"{min(tdcfs):.4f}", f"{min(dcfs):.4f}"]
