"""Figures: the matplotlib objects hold the expected curves and points; the CLI writes PNGs."""

import pathlib

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from scipy.stats import norm

import speechbrain_ssdctx.cli.plot as plot_cli
from speechbrain_ssdctx.cli.plot import read_keys
from speechbrain_ssdctx.evaluation.plots import (
    DET_LIMITS,
    TSNE_COLOURS,
    plot_det,
    plot_score_histograms,
    plot_tsne,
    save_figure,
)
from speechbrain_ssdctx.evaluation.scores import write_score_file

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
LA = FIXTURES / "asvspoof2019_la" / "LA"
DEV_PROTOCOL = LA / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def naive_det(bonafide: np.ndarray, spoof: np.ndarray):
    """Error rates at every threshold by brute force (accept when score > threshold)."""
    scores = np.sort(np.concatenate([bonafide, spoof]))
    thresholds = np.concatenate([[scores[0] - 1.0], scores])
    frr = np.array([np.mean(bonafide <= t) for t in thresholds])
    far = np.array([np.mean(spoof > t) for t in thresholds])
    return frr, far


def test_det_curves_follow_the_error_rates(tmp_path):
    rng = np.random.default_rng(0)
    systems = {
        "good": (rng.normal(2, 1, 40), rng.normal(-2, 1, 60)),
        "weak": (rng.normal(0.5, 1, 40), rng.normal(-0.5, 1, 60)),
    }
    fig = plot_det(systems)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    for index, (name, (bonafide, spoof)) in enumerate(systems.items()):
        curve, marker = lines[2 * index], lines[2 * index + 1]
        frr, far = naive_det(bonafide, spoof)
        np.testing.assert_allclose(norm.cdf(curve.get_xdata()), np.clip(far, *DET_LIMITS))
        np.testing.assert_allclose(norm.cdf(curve.get_ydata()), np.clip(frr, *DET_LIMITS))
        best = np.argmin(np.abs(frr - far))
        eer = (frr[best] + far[best]) / 2
        assert norm.cdf(marker.get_xdata()[0]) == pytest.approx(eer)
        assert curve.get_label() == f"{name} (EER {100 * eer:.2f}%)"
        assert marker.get_color() == curve.get_color()
    path = save_figure(fig, tmp_path / "det.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_histograms_are_densities_on_shared_bins():
    rng = np.random.default_rng(1)
    groups = {"bonafide": rng.normal(3, 1, 200), "A07": rng.normal(-2, 1, 80), "A08": [0.0, 1.0]}
    fig = plot_score_histograms(groups, threshold=0.5, bins=10)
    ax = fig.axes[0]
    everything = np.concatenate([np.asarray(g) for g in groups.values()])
    edges = np.linspace(everything.min(), everything.max(), 11)
    width = edges[1] - edges[0]
    assert len(ax.patches) == 3
    for patch, (name, scores) in zip(ax.patches, groups.items(), strict=True):
        scores = np.asarray(scores)
        counts = np.array(
            [
                np.sum((scores >= lo) & (scores < hi))
                for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            ]
        )
        counts[-1] += np.sum(scores == edges[-1])
        xy = patch.get_xy()
        np.testing.assert_allclose(xy[1:-1:2, 0], edges[:-1])
        np.testing.assert_allclose(xy[1:-1:2, 1], counts / (scores.size * width))
        assert patch.get_label() == f"{name} (n={scores.size})"
    (threshold,) = ax.get_lines()
    assert list(threshold.get_xdata()) == [0.5, 0.5]


@pytest.mark.slow
def test_tsne_puts_masked_views_with_their_utterance():
    rng = np.random.default_rng(2)
    bonafide = rng.normal(0, 0.3, (30, 8)) + 5
    spoof = rng.normal(0, 0.3, (30, 8)) - 5
    views = spoof[0] + rng.normal(0, 0.05, (10, 8))
    labels = [True] * 30 + [False] * 30
    fig = plot_tsne(np.concatenate([bonafide, spoof]), labels, views, views_label="views of x")
    collections = fig.axes[0].collections
    assert [len(c.get_offsets()) for c in collections] == [30, 30, 10]
    for collection, key in zip(collections, ("bonafide", "spoof", "views"), strict=True):
        np.testing.assert_allclose(collection.get_facecolor()[0], to_rgba(TSNE_COLOURS[key]))
    assert collections[2].get_label() == "views of x (n=10)"
    bona_xy, spoof_xy, view_xy = (np.asarray(c.get_offsets()) for c in collections)
    to_spoof = np.linalg.norm(view_xy - spoof_xy.mean(0), axis=1)
    to_bona = np.linalg.norm(view_xy - bona_xy.mean(0), axis=1)
    assert np.all(to_spoof < to_bona)


@pytest.fixture
def captured_figures(monkeypatch):
    """The figures the CLI saves (it still writes them)."""
    figures = []

    def capture(fig, path, **kwargs):
        figures.append(fig)
        return save_figure(fig, path, **kwargs)

    monkeypatch.setattr(plot_cli, "save_figure", capture)
    return figures


@pytest.fixture(scope="module")
def score_files(tmp_path_factory):
    """Two synthetic score files over 60 bona fide and 120 spoofed dev trials."""
    keys = read_keys(DEV_PROTOCOL)
    bonafide = [utt for utt, row in keys.items() if row["label"] == "bonafide"][:60]
    spoof = [utt for utt, row in keys.items() if row["label"] == "spoof"][::180][:120]
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("scores")
    paths = []
    for name, gap in (("sys_a", 3.0), ("sys_b", 1.0)):
        scores = np.concatenate([rng.normal(gap, 1, 60), rng.normal(-gap, 1, 120)])
        paths.append(write_score_file(folder / f"{name}.txt", bonafide + spoof, scores))
    return keys, spoof, paths


@pytest.mark.slow
def test_cli_det_and_hist(tmp_path, score_files, captured_figures):
    keys, spoof, (sys_a, sys_b) = score_files
    det_png = tmp_path / "det.png"
    argv = ["det", str(sys_a), str(sys_b), "--labels", "A", "B"]
    assert plot_cli.main([*argv, "--protocol", str(DEV_PROTOCOL), "--out", str(det_png)]) == 0
    assert det_png.read_bytes().startswith(PNG_MAGIC)
    labels = [line.get_label() for line in captured_figures[0].axes[0].get_lines()]
    assert labels[0].startswith("A (EER") and labels[2].startswith("B (EER")
    hist_png = tmp_path / "hist.png"
    argv = ["hist", str(sys_a), "--protocol", str(DEV_PROTOCOL), "--out", str(hist_png)]
    assert plot_cli.main([*argv, "--threshold", "0"]) == 0
    assert hist_png.read_bytes().startswith(PNG_MAGIC)
    attacks = sorted({keys[utt]["attack"] for utt in spoof})
    patches = captured_figures[1].axes[0].patches
    assert [p.get_label().split(" ")[0] for p in patches] == ["bonafide", *attacks]
    counts = {attack: sum(keys[utt]["attack"] == attack for utt in spoof) for attack in attacks}
    assert [p.get_label() for p in patches[1:]] == [f"{a} (n={counts[a]})" for a in attacks]


def test_cli_rejects_scores_outside_the_protocol(tmp_path, capsys):
    scores = write_score_file(tmp_path / "s.txt", ["not_in_protocol", "x2"], [1.0, 2.0])
    argv = ["hist", str(scores), "--protocol", str(DEV_PROTOCOL), "--out", str(tmp_path / "h.png")]
    assert plot_cli.main(argv) == 1
    assert "s.txt': 2 ids not in the protocol" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_tsne_of_fixture_audio(tmp_path, captured_figures):
    protocol = tmp_path / "protocol.txt"
    lines = []
    for split in ("train.trn", "dev.trl", "eval.trl"):
        path = LA / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{split}.txt"
        with open(path) as stream:
            lines += [
                line
                for line in stream
                if line.split()[1] in {"LA_T_1272637", "LA_D_1003356", "LA_E_6163791"}
            ]
    protocol.write_text("".join(lines))
    view_of = LA / "ASVspoof2019_LA_eval" / "flac" / "LA_E_6163791.flac"
    out = tmp_path / "tsne.png"
    argv = ["tsne", str(LA), "--model", "aasist-l", "--protocol", str(protocol)]
    assert plot_cli.main([*argv, "--view-of", str(view_of), "--views", "4", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_MAGIC)
    collections = captured_figures[0].axes[0].collections
    assert [len(c.get_offsets()) for c in collections] == [1, 2, 4]
    assert collections[2].get_label() == "masked views of LA_E_6163791 (n=4)"
