"""Checkpoint averaging against hand computations over state dicts."""

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ssdctx.cli import average as average_cli
from speechbrain_ssdctx.training.averaging import (
    AVERAGED_KEY,
    average_run_checkpoints,
    average_state_dicts,
)
from speechbrain_ssdctx.training.checkpoints import CheckpointError, SafeCheckpointer
from speechbrain_ssdctx.utils.reproducibility import RNGState


def _model():
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def _trained_states(num, seed=0):
    torch.manual_seed(seed)
    model, states = _model(), []
    for step in range(num):
        model.train()
        for _ in range(step + 1):
            model(torch.randn(5, 3))
        with torch.no_grad():
            model[0].weight.add_(torch.randn(2, 3))
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    return states


def test_average_matches_a_hand_computation():
    states = _trained_states(3)
    mean = average_state_dicts(states)
    for name in ("0.weight", "0.bias", "1.running_mean", "1.running_var", "1.weight"):
        by_hand = [[sum(float(s[name].reshape(-1)[i]) for s in states) / 3]
                   for i in range(states[0][name].numel())]
        assert mean[name].dtype == torch.float32
        assert mean[name].reshape(-1).tolist() == pytest.approx(
            [value[0] for value in by_hand], abs=1e-6)
    # integer buffer: the last (newest) state's count, still an integer tensor
    assert mean["1.num_batches_tracked"].dtype == torch.int64
    assert int(mean["1.num_batches_tracked"]) == 1 + 2 + 3
    assert [int(s["1.num_batches_tracked"]) for s in states] == [1, 3, 6]


def test_average_of_copies_is_the_checkpoint_exactly():
    state = _trained_states(1)[0]
    half = {"h": torch.randn(4).half(), "b": torch.tensor([True, False])}
    for copies in (1, 2, 3, 5, 7):
        mean = average_state_dicts([state] * copies)
        assert all(torch.equal(mean[k], state[k]) and mean[k].dtype == state[k].dtype
                   for k in state)
        mean = average_state_dicts([half] * copies)
        assert torch.equal(mean["h"], half["h"]) and torch.equal(mean["b"], half["b"])


def test_mismatched_state_dicts_are_refused():
    with pytest.raises(ValueError, match="differ in keys"):
        average_state_dicts([{"a": torch.ones(1)}, {"b": torch.ones(1)}])
    with pytest.raises(ValueError, match="shapes"):
        average_state_dicts([{"a": torch.ones(1)}, {"a": torch.ones(2)}])
    with pytest.raises(ValueError, match="No state dicts"):
        average_state_dicts([])


def _run(folder, eers):
    """A checkpoint folder as training leaves it: a model, an epoch counter, dev EERs."""
    model = _model()
    checkpointer = SafeCheckpointer(folder, {"model": model})
    states = _trained_states(len(eers))
    for state, eer in zip(states, eers, strict=True):
        model.load_state_dict(state)
        checkpointer.save_checkpoint(meta={"EER": eer})
    return checkpointer, model, states


def test_best_and_last_checkpoints_of_a_run(tmp_path):
    checkpointer, model, states = _run(tmp_path, [4.0, 2.0, 3.0, 5.0])
    best = average_run_checkpoints(tmp_path, 2, by="best")  # EER 2.0 and 3.0
    saved = torch.load(best.paramfiles["model"])
    expected = average_state_dicts([states[1], states[2]])
    assert all(torch.equal(saved[k], expected[k]) for k in expected)
    assert best.meta[AVERAGED_KEY] == 2 and "EER" not in best.meta
    last = average_run_checkpoints(tmp_path, 3, by="last")  # replaces the first average
    saved = torch.load(last.paramfiles["model"])
    assert torch.equal(saved["0.weight"], average_state_dicts(states[1:])["0.weight"])
    assert int(saved["1.num_batches_tracked"]) == int(states[3]["1.num_batches_tracked"])
    assert len([p for p in tmp_path.iterdir() if "averaged" in p.name]) == 1
    # never the best by dev EER, never the checkpoint a resumed run restarts from
    assert Checkpointer(tmp_path).find_checkpoint(min_key="EER").meta["EER"] == 2.0
    assert checkpointer.recover_if_possible().meta["EER"] == 5.0
    assert checkpointer.recover_if_possible(max_key=AVERAGED_KEY).path == last.path
    assert torch.equal(model[0].weight, saved["0.weight"])


def test_cli_average_and_its_errors(tmp_path, capsys):
    _run(tmp_path, [1.0, 2.0])
    assert average_cli.main([str(tmp_path), "--num", "2", "--by", "last"]) == 0
    assert "into" in capsys.readouterr().out
    assert average_cli.main([str(tmp_path), "--num", "3"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds 2 checkpoint(s) with a dev EER, not 3" in error
    with pytest.raises(CheckpointError, match="does not exist"):
        average_run_checkpoints(tmp_path / "none", 1)


def test_training_on_after_an_average_keeps_it(tmp_path):
    """SpeechBrain's save_and_keep_only deletes every checkpoint outside the kept ones,
    an averaged one (no dev EER, older than the new save) included: SafeCheckpointer
    leaves it, and does not count it among the most recent ones it keeps."""
    checkpointer, model, states = _run(tmp_path, [4.0, 2.0, 3.0])
    averaged = average_run_checkpoints(tmp_path, 2, by="best")
    weights = torch.load(averaged.paramfiles["model"])
    for eer in (6.0, 7.0):  # two more epochs, worse on dev: keep the best and the newest
        with torch.no_grad():
            model[0].weight.add_(1.0)
        checkpointer.save_and_keep_only(meta={"EER": eer}, min_keys=["EER"], num_to_keep=1)
    kept = {c.path.name: c.meta.get("EER") for c in Checkpointer(tmp_path).list_checkpoints()}
    assert sorted(kept.values(), key=str) == [2.0, 7.0, None]  # best, newest, the average
    assert averaged.path.name in kept
    assert all(torch.equal(weights[k], v)
               for k, v in torch.load(averaged.paramfiles["model"]).items())
    # an intra-epoch save (SpeechBrain's predicate: only intra-epoch ones may go) too
    checkpointer.save_and_keep_only(end_of_epoch=False, num_to_keep=1,
                                    ckpt_predicate=lambda c: c.meta.get("EER") is None)
    assert averaged.path.is_dir()


def test_a_run_with_random_states_averages_its_weights_and_copies_the_states(tmp_path):
    """DetectorBrain checkpoints the random states (rng.ckpt: a list, one per rank): not a
    state dict, so copied from the newest checkpoint, and the weights still averaged."""
    checkpointer, model, states = _run(tmp_path, [2.0, 1.0])
    rng = RNGState()
    checkpointer.add_recoverable("rng", rng)
    model.load_state_dict(states[0])
    older = checkpointer.save_checkpoint(meta={"EER": 0.5})
    model.load_state_dict(states[1])
    torch.rand(3)  # other random states in the newer checkpoint
    newer = checkpointer.save_checkpoint(meta={"EER": 0.4})
    averaged = average_run_checkpoints(tmp_path, 2, by="last")
    saved = torch.load(averaged.paramfiles["model"])
    assert torch.equal(saved["0.weight"], (states[0]["0.weight"] + states[1]["0.weight"]) / 2)
    assert averaged.paramfiles["rng"].read_bytes() == newer.paramfiles["rng"].read_bytes()
    assert older.paramfiles["rng"].read_bytes() != newer.paramfiles["rng"].read_bytes()
