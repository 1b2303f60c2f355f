"""The training YAMLs cannot drift: the shared settings live once, in ``hparams/blocks/``.

In the manner of SpeechBrain's ``tests/consistency/test_yaml.py``: every training YAML
accepts the same data, test-set, evaluation and multi-GPU overrides (the recipe's
start-up and HyperPyYAML's own ``overrides_must_match``), every reference it makes and
every value it gives an ``!include:`` is declared, and no training YAML declares a key
of a shared block again.
"""

import io
import re

import pytest
import ruamel.yaml
import speechbrain as sb
from hyperpyyaml import resolve_references
from recipe_utils import HPARAMS

from speechbrain_ssdctx.training.startup import run_hparams
from speechbrain_ssdctx.utils.distributed import resolve_run_options
from speechbrain_ssdctx.utils.hparams_blocks import MERGE_PREFIX, compose_hparams, open_hparams

TRAINING_YAMLS = sorted(p.name for p in HPARAMS.glob("*.yaml"))
BLOCKS = HPARAMS / "blocks"
#: The blocks every training YAML merges (the schedule block only where it is the paper's).
SHARED_BLOCKS = ("run.yaml", "data.yaml", "evaluation.yaml", "augmentation.yaml",
                 "checkpoints.yaml")
REFERENCE = re.compile(r"<([^<>\[\].]+)")


def shared_overrides(folder) -> dict:
    """Values of the data, test-set, evaluation and run / DDP keys (folders that exist)."""
    for name in ("LA", "LA2021", "keys", "DF2021", "asvspoof5", "itw", "out"):
        (folder / name).mkdir()
    csv = folder / "extra.csv"
    csv.write_text("path,label\n")
    return {
        # data and test sets
        "data_folder": str(folder / "LA"),
        "la2021_folder": str(folder / "LA2021"), "la2021_keys": str(folder / "keys"),
        "df2021_folder": str(folder / "DF2021"), "df2021_keys": str(folder / "keys"),
        "asvspoof5_folder": str(folder / "asvspoof5"),
        "in_the_wild_folder": str(folder / "itw"),
        "test_csvs": [str(csv)],
        "skip_missing_audio": True, "max_utterances_per_class": 3,
        "train_seconds": 2.0, "eval_window": "full", "eval_seconds": 2.5,
        # evaluation
        "calibration_prior": 0.05, "bonafide_index": 0,
        # run and DDP
        "output_folder": str(folder / "out"), "seed": 7,
        "batch_size": 6, "batch_semantics": "per_process", "eval_batch_size": 5,
        "sync_batchnorm": False, "num_workers": 0, "pin_memory": False,
        "cpu_retain_freed_memory": False,
    }


#: Run options of SpeechBrain's command line that every training YAML declares too (the
#: command line wins; ``--find_unused_parameters`` is a flag).
RUN_OPTIONS = {
    "distributed_backend": "gloo", "precision": "bf16", "eval_precision": "bf16",
    "grad_accumulation_factor": 2, "max_grad_norm": 5.0, "find_unused_parameters": True,
}


def as_arguments(overrides: dict) -> list[str]:
    """``--key=value`` arguments, values in YAML flow style (lists as ``[a, b]``)."""
    def text(value):
        if isinstance(value, list):
            return "[" + ", ".join(value) + "]"
        return "null" if value is None else str(value)

    return [f"--{key}" if value is True and key in RUN_OPTIONS else f"--{key}={text(value)}"
            for key, value in overrides.items()]


def top_level(text: str) -> dict:
    return dict(ruamel.yaml.YAML().load(io.StringIO(text)) or {})


def block_keys(name: str) -> set:
    return set(top_level((BLOCKS / name).read_text()))


def merged_files(path) -> list:
    """The files ``path`` merges (``<<name: !include:file``), recursively, in order."""
    files = []
    for key, value in top_level(path.read_text()).items():
        if str(key).startswith(MERGE_PREFIX):
            included = path.parent / value.tag.value[len("!include:"):]
            files += [included.resolve(), *merged_files(included)]
    return files


def tags_in(node):
    """Every tagged node under ``node`` (mappings and sequences walked)."""
    if getattr(getattr(node, "tag", None), "value", None):
        yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from tags_in(child)


@pytest.mark.parametrize("name", TRAINING_YAMLS)
def test_every_training_yaml_accepts_the_shared_overrides(name, tmp_path):
    overrides = shared_overrides(tmp_path)
    # HyperPyYAML itself refuses an override of a key the file does not declare.
    resolve_references(
        open_hparams(HPARAMS / name), {**overrides, **RUN_OPTIONS}, overrides_must_match=True)
    # The recipe's start-up (unknown keys and typed values checked) as train.py runs it.
    arguments = as_arguments({**overrides, **RUN_OPTIONS})
    resolved = run_hparams(HPARAMS / name, arguments)
    for key, value in overrides.items():
        assert resolved[key] == value, (name, key)
    _, run_opts, _ = sb.parse_arguments([str(HPARAMS / name), "--device=cpu", *arguments])
    for key, value in RUN_OPTIONS.items():
        assert key in resolved and run_opts[key] == value, (name, key)
    settled = resolve_run_options(run_opts, resolved)  # the command line wins
    assert (settled.distributed_backend, settled.precision) == ("gloo", "bf16"), name
    # The blocks' references follow: the run's folders, the manifests.
    out = overrides["output_folder"]
    assert (resolved["save_folder"], resolved["train_log"], resolved["manifest_folder"]) == (
        f"{out}/save", f"{out}/train_log.txt", f"{out}/manifests")
    default = run_hparams(HPARAMS / name, ["--seed=7", "--demo_schedule=null"])
    assert default["output_folder"] == f"results/{default['experiment_name']}/7", name


@pytest.mark.parametrize("name", TRAINING_YAMLS)
def test_every_key_a_training_yaml_uses_is_declared(name):
    composed = top_level(compose_hparams(HPARAMS / name))
    for node in tags_in(composed):
        tag = node.tag.value
        if tag in ("!ref", "!copy"):
            for used in REFERENCE.findall(str(node.value)):
                assert used in composed, (name, tag, node.value)
        elif tag.startswith("!include:"):  # HyperPyYAML would add a mistyped parameter
            included = top_level((HPARAMS / tag[len("!include:"):]).read_text())
            unknown = set(node) - set(included) if isinstance(node, dict) else set()
            assert not unknown, (name, tag, unknown)
    schedule = composed.get("demo_schedule") or {}
    assert set(schedule) <= set(composed) - {"demo_schedule"}, name


@pytest.mark.parametrize("name", TRAINING_YAMLS)
def test_no_training_yaml_declares_a_shared_block_again(name):
    path = HPARAMS / name
    own = {key for key in top_level(path.read_text()) if not str(key).startswith(MERGE_PREFIX)}
    merged = merged_files(path)
    for block in SHARED_BLOCKS:
        assert merged.count((BLOCKS / block).resolve()) == 1, (name, block)
        assert not own & block_keys(block), (name, block, own & block_keys(block))
    for block in BLOCKS.glob("*.yaml"):  # the optional ones (the paper's schedule) if merged
        if block.resolve() in merged:
            assert not own & block_keys(block.name), (name, block.name)


def test_the_blocks_share_no_key_and_the_composer_refuses_a_second_declaration(tmp_path):
    names = sorted(p.name for p in BLOCKS.glob("*.yaml"))
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not block_keys(first) & block_keys(second), (first, second)
    (tmp_path / "blocks").mkdir()
    (tmp_path / "blocks" / "data.yaml").write_text((BLOCKS / "data.yaml").read_text())
    twice = tmp_path / "twice.yaml"
    twice.write_text("output_folder: out\n<<data: !include:blocks/data.yaml\ntest_csvs: []\n")
    with pytest.raises(ValueError, match="test_csvs is declared twice"):
        compose_hparams(twice)
    typo = tmp_path / "typo.yaml"
    typo.write_text("output_folder: out\n<<data: !include:blocks/data.yaml\n    test_csv: []\n")
    with pytest.raises(ValueError, match="has no key test_csv"):
        compose_hparams(typo)


def test_a_file_without_blocks_reads_as_it_is_and_a_merge_loop_is_named(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text("# a comment\na: 1\nb: !ref <a>  # kept\n<<: {c: 2}\n")  # YAML's own merge
    assert compose_hparams(plain) == plain.read_text()
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: 1\n<<again: !include:loop.yaml\n")
    with pytest.raises(ValueError, match="merges itself"):
        compose_hparams(loop)
    nested = tmp_path / "nested.yaml"
    nested.write_text("<<recipe: !include:plain.yaml\n    a: 5\n")
    assert top_level(compose_hparams(nested))["a"] == 5
