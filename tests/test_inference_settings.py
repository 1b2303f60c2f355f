"""Inference settings (checked in one place), windows, length batches, and the exported
``hyperparams.yaml`` written by ruamel.yaml."""

import functools

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.inference import InferenceSettings, SpoofDetector, load_weights
from speechbrain_ssdctx.inference.batching import batches_by_length
from speechbrain_ssdctx.inference.export import (
    DetectorDefinition,
    ExportError,
    _hyperparams,
    export_detector,
)
from speechbrain_ssdctx.inference.windows import Windowing
from speechbrain_ssdctx.method.contract import ContractAdapter
from speechbrain_ssdctx.models import LCNN


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window_policy": "middle"}, "window_policy must be one of .*'middle'"),
        ({"window_policy": "first"}, "'first' needs a positive window_samples"),
        ({"window_policy": "first", "window_samples": -3},
         "window_samples must be a positive integer, got -3"),
        ({"score_type": "llr"}, "score_type must be one of .*'llr'"),
        ({"bonafide_index": 2}, "bonafide_index must be 0 or 1, got 2"),
        ({"sample_rate": 16000.5}, "sample_rate must be a positive integer"),
        ({"min_samples": 0}, "min_samples must be a positive integer, got 0"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"aggregate": "median"}, "aggregate must be one of .*'median'"),
        ({"window_seconds": -1.0}, "window_seconds must be positive, got -1.0"),
        ({"window_seconds": 1.0, "hop_seconds": 2.0}, r"hop must be in \(0, window\]"),
        # Without a sliding window, it is window_samples (0.5 s at 16 kHz).
        ({"window_samples": 8000, "hop_seconds": 0.6}, "got window 0.5 s, hop 0.6 s"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        InferenceSettings(**settings).completed()


def test_defaults_and_the_settings_in_use():
    done = InferenceSettings().completed()
    assert (done.sample_rate, done.window_policy, done.score_type, done.bonafide_index) == (
        16000, "full", "log_odds", 1)
    # A model stored with "full" scores with sliding windows: 6 s, half a window of hop.
    in_use = done.in_use()
    assert (in_use.window_policy, in_use.window_seconds, in_use.hop_seconds, in_use.aggregate) \
        == ("sliding", 6.0, 3.0, "mean")
    assert done.in_use("full").window_policy == "full"
    first = InferenceSettings(sample_rate=8000, window_policy="first", window_samples=4000)
    assert first.in_use().window_policy == "first"
    assert first.in_use("sliding").window_seconds == 0.5  # 4000 samples at 8 kHz
    assert first.in_use("sliding", 2.0, aggregate="max").hop_seconds == 1.0
    with pytest.raises(ValueError, match="hop must be in"):
        done.in_use("sliding", window_seconds=1.0, hop_seconds=3.0)


def test_settings_from_hyperparameters():
    hparams = {"sample_rate": 16000, "window_policy": "official", "window_samples": None,
               "threshold": 1, "calibration": {"slope": 2.0, "offset": -1.0, "prior": 0.05},
               "detector": object()}
    settings = InferenceSettings.from_hparams(hparams)
    assert settings.threshold == 1.0 and isinstance(settings.threshold, float)
    assert settings.calibration == Calibration(2.0, -1.0, 0.05)
    assert settings.window_samples is None and settings.score_type == "log_odds"
    with pytest.raises(ValueError, match="model.yaml: threshold must be a number, got 'high'"):
        InferenceSettings.from_hparams({**hparams, "threshold": "high"}, "model.yaml")


def naive_starts(length: int, window: int, hop: int) -> list[int]:
    """Every hop while a whole window fits, and one more ending with the signal."""
    starts = list(range(0, length - window + 1, hop))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


@pytest.mark.parametrize("block", [1, 7, 100])
def test_sliding_windows_of_a_stream_are_those_of_a_loop(block):
    windowing = Windowing(InferenceSettings(sample_rate=10).in_use("sliding", 2.0, 0.7))
    signal = torch.arange(93, dtype=torch.float32)
    blocks = [signal[i: i + block] for i in range(0, 93, block)]
    windows = list(windowing.segments(blocks))
    starts = naive_starts(93, 20, 7)
    assert [start for start, _ in windows] == starts
    for start, window in windows:
        assert torch.equal(window, signal[start: start + 20])


def test_short_signals_are_scored_whole_and_repeat_padded_to_the_minimum():
    windowing = Windowing(InferenceSettings(sample_rate=10).in_use("sliding", 2.0), 5)
    ((start, window),) = windowing.segments([torch.tensor([1.0, 2.0, 3.0])])
    assert start == 0 and window.tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    first = Windowing(InferenceSettings(window_policy="first", window_samples=4).in_use())
    assert [w.tolist() for _, w in first.segments([torch.ones(3), torch.zeros(9)])] == [
        [1.0, 1.0, 1.0, 0.0]]


@pytest.mark.parametrize(("aggregate", "expected"), [
    ("mean", [1.0 / 3, 4.0 / 3]), ("min", [1.0, 0.0]), ("max", [0.0, 3.0])])
def test_aggregation_of_window_logits(aggregate, expected):
    logits = torch.tensor([[0.0, 1.0], [0.0, 3.0], [1.0, 0.0]])  # log-odds 1, 3, -1
    windowing = Windowing(InferenceSettings().in_use(aggregate=aggregate))
    assert windowing.merge(logits).tolist() == pytest.approx(expected)


def test_batches_hold_windows_of_one_length_only():
    lengths = [3, 5, 3, 3, 5, 3, 4]
    items = [(i, torch.zeros(n)) for i, n in enumerate(lengths)]
    batches = list(batches_by_length(items, 2))
    assert sorted(i for batch in batches for i, _ in batch) == list(range(7))
    for batch in batches:
        assert 1 <= len(batch) <= 2 and len({w.numel() for _, w in batch}) == 1
    assert len(batches) == 2 + 1 + 1  # four of length 3, two of 5, one of 4


# ---- the exported hyperparams.yaml ---------------------------------------------------

#: A detector block with values YAML must quote: ": " and "#" in strings, a string YAML 1.1
#: reads as a boolean, and a float without a dot in its mantissa.
DEFINITION = """\
n_mels: 32
label: 'speaker: A # take 2'
answer: 'yes'
tiny: 1.0e-20
detector: !new:speechbrain_ssdctx.models.LCNN
    n_mels: 32
"""

#: What the export wrote by joining strings (0.1.0), for the same block and settings, with
#: the public paths of this version.
JOINED = DEFINITION + """\
sample_rate: 16000
window_policy: first
window_samples: 32000
min_samples: 400
score_type: bonafide_logit
threshold: 0.25
bonafide_index: 0
scorer: !new:speechbrain_ssdctx.method.contract.ContractAdapter
    detector: !ref <detector>
    bonafide_index: !ref <bonafide_index>
modules:
    detector: !ref <scorer>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        detector: !ref <scorer>
    custom_hooks:
        detector: !name:speechbrain_ssdctx.inference.load_weights
calibration:
    slope: 2.0
    offset: -0.5
    prior: 0.05
"""

SETTINGS = InferenceSettings(
    window_policy="first", window_samples=32000, min_samples=400, score_type="bonafide_logit",
    threshold=0.25, bonafide_index=0, calibration=Calibration(2.0, -0.5, 0.05),
)


def plain_values(hparams: dict) -> dict:
    """The values of a loaded YAML, objects replaced by their type (and hooks by name)."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (str, int, float, type(None))):
            return value
        if isinstance(value, functools.partial):
            return value.func
        return type(value)
    return plain(hparams)


def test_exported_yaml_loads_as_the_joined_strings_did():
    text = _hyperparams(DEFINITION, "detector", SETTINGS.completed(), "lcnn: v2 # best\nnew")
    exported, joined = load_hyperpyyaml(text), load_hyperpyyaml(JOINED)
    assert plain_values(exported) == plain_values(joined)
    assert (exported["label"], exported["answer"], exported["tiny"]) == (
        "speaker: A # take 2", "yes", 1e-20)
    assert isinstance(exported["scorer"], ContractAdapter)
    assert exported["scorer"].bonafide_index == 0
    assert exported["modules"]["detector"] is exported["scorer"]
    hook = exported["pretrainer"].custom_hooks["detector"]
    assert getattr(hook, "func", hook) is load_weights
    # The header names the model on one comment line; the reader's comments are kept.
    assert "# lcnn: v2 # best new: a synthetic speech detector" in text
    assert "# Decision threshold on the score" in text and "# Score calibration" in text


class TagsIgnored(yaml.SafeLoader):
    """Plain PyYAML (YAML 1.1), HyperPyYAML tags read as None."""


TagsIgnored.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_tiny_numbers_stay_numbers_for_any_yaml_reader():
    settings = InferenceSettings(threshold=1e-20, calibration=Calibration(1e-30, 1e20, 0.5))
    text = _hyperparams(DEFINITION, "detector", settings.completed(), "m")
    for loaded in (load_hyperpyyaml(text), yaml.load(text, TagsIgnored)):  # noqa: S506
        assert loaded["threshold"] == 1e-20
        assert loaded["calibration"] == {"slope": 1e-30, "offset": 1e20, "prior": 0.5}


def test_definition_keys_the_export_writes_are_refused():
    with pytest.raises(ExportError, match=r"defines \['threshold'\]"):
        _hyperparams(DEFINITION + "threshold: 3\n", "detector", SETTINGS.completed(), "m")


def test_an_export_loads_back_with_its_settings(tmp_path):
    settings = InferenceSettings(
        window_policy="sliding", window_seconds=1.5, hop_seconds=0.5, aggregate="min",
        threshold=-0.75, calibration=Calibration(1.5, 0.25, 0.05),
    )
    definition = DetectorDefinition("n_mels: 32\ndetector: !new:speechbrain_ssdctx.models.LCNN\n"
                                    "    n_mels: 32\n")
    folder = export_detector(LCNN(n_mels=32), definition, tmp_path / "my: model",
                             settings=settings)
    loaded = SpoofDetector.from_hparams(folder)
    assert loaded.settings == settings.completed()
    assert (loaded.window_policy, loaded.window_seconds, loaded.hop_seconds, loaded.aggregate) \
        == ("sliding", 1.5, 0.5, "min")
    text = (folder / "hyperparams.yaml").read_text()
    assert "!new:speechbrain_ssdctx.method.contract.ContractAdapter" in text
    assert "!name:speechbrain_ssdctx.inference.load_weights" in text


def test_bad_export_settings_are_export_errors(tmp_path):
    definition = DetectorDefinition("detector: !new:speechbrain_ssdctx.models.LCNN\n")
    with pytest.raises(ExportError, match="Inference settings: score_type must be one of"):
        export_detector(LCNN(), definition, tmp_path / "m", InferenceSettings(score_type="x"))
