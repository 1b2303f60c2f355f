"""HyperPyYAML files made of shared blocks: the blocks' keys become the file's own keys.

HyperPyYAML's ``key: !include:file.yaml`` nests the file under ``key``, so a value in it
cannot be set with ``--name=value`` and cannot be read as ``hparams["name"]``. The
training YAMLs share their data, evaluation and run settings through blocks
(``hparams/blocks/*.yaml``) that must stay top-level keys. A top-level entry whose key
starts with ``<<`` (like YAML's merge key) and whose value is an ``!include:`` merges the
file's top-level entries into the including file, in place, before HyperPyYAML reads it:

    <<run: !include:blocks/run.yaml
        batch_size: 8               # replaces the block's value (a key the block has)

References (``!ref <output_folder>``) then resolve across the blocks and the file, and the
command line overrides any merged key. A key declared twice (in a block and the file, or
in two blocks) is an error; so is a value given for a key the block does not have. The
included path is relative to the including file; merges nest (a recipe may merge another
recipe). A file without ``<<`` entries reads as it is.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import io
import os
import pathlib
from datetime import date

import ruamel.yaml
from hyperpyyaml import resolve_references
from ruamel.yaml.comments import CommentedMap

__all__ = ["MERGE_PREFIX", "BlockError", "compose_hparams", "open_hparams", "save_hparams"]

#: Top-level keys starting with this merge the ``!include:``d file into the top level.
MERGE_PREFIX = "<<"

_INCLUDE = "!include:"


class BlockError(ValueError):
    """A block that cannot be merged: a key declared twice, an unknown key, not an include."""


def compose_hparams(hparams_file: str | os.PathLike) -> str:
    """The YAML text of ``hparams_file`` with its ``<<`` blocks merged into its top level.

    Arguments
    ---------
    hparams_file : str or path-like
        A HyperPyYAML file.

    Returns
    -------
    str
        Plain HyperPyYAML (tags and references kept, nothing resolved).

    Example
    -------
    >>> text = compose_hparams("hparams/lcnn_inf_ini.yaml")
    >>> "<<" in text, "\\nin_the_wild_folder:" in text
    (False, True)
    """
    path = pathlib.Path(hparams_file)
    text = path.read_text(encoding="utf-8")
    if not any(_is_block(key) for key in _top_level(text)):
        return text  # no block: the file as it is
    stream = io.StringIO()
    _yaml().dump(_merged(path, ()), stream)
    return stream.getvalue()


def open_hparams(hparams_file: str | os.PathLike) -> io.StringIO:
    """The composed YAML as a stream named after the file, for HyperPyYAML's loaders.

    The name makes ``!include:`` paths (``models/lcnn.yaml``) resolve from the file's folder.

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> hparams = load_hyperpyyaml(open_hparams("hparams/lcnn.yaml"), {"test_csvs": ["a.csv"]})
    >>> hparams["test_csvs"], hparams["use_inf"], hparams["batch_size"]
    (['a.csv'], False, 64)
    """
    stream = io.StringIO(compose_hparams(hparams_file))
    stream.name = os.fspath(hparams_file)
    return stream


def save_hparams(
    hparams_file: str | os.PathLike, overrides: dict, destination: str | os.PathLike
) -> None:
    """Writes the resolved hyperparameters as run, as SpeechBrain's experiment folder has them.

    The same file as ``speechbrain.create_experiment_directory(hyperparams_to_save=...)``
    writes (references resolved, overrides applied), of the composed YAML.

    Arguments
    ---------
    hparams_file : str or path-like
        The YAML file.
    overrides : dict
        The overrides the run applied.
    destination : str or path-like
        The file to write (``<output_folder>/hyperparams.yaml``).

    Example
    -------
    >>> import pathlib, tempfile
    >>> saved = pathlib.Path(tempfile.mkdtemp()) / "hyperparams.yaml"
    >>> save_hparams("hparams/lcnn.yaml", {"seed": 3}, saved)
    >>> "\\noutput_folder: results/lcnn/3\\n" in saved.read_text()
    True
    """
    resolved = resolve_references(open_hparams(hparams_file), overrides).getvalue()
    header = (
        f"# Generated {date.today()} from:\n# {os.path.abspath(hparams_file)}\n"
        "# yamllint disable\n"
    )
    pathlib.Path(destination).write_text(header + resolved, encoding="utf-8")


def _yaml() -> ruamel.yaml.YAML:
    return ruamel.yaml.YAML()  # round trip, as HyperPyYAML reads: tags kept


def _top_level(text: str) -> dict:
    tree = _yaml().load(text)
    return tree if isinstance(tree, dict) else {}


def _is_block(key) -> bool:
    return str(key).startswith(MERGE_PREFIX)


def _merged(path: pathlib.Path, seen: tuple[pathlib.Path, ...]) -> CommentedMap:
    """The top level of ``path`` with its blocks merged in (recursively)."""
    real = path.resolve()
    if real in seen:
        raise BlockError(f"{path}: merges itself ({' -> '.join(map(str, seen))})")
    merged = CommentedMap()
    for key, value in _top_level(path.read_text(encoding="utf-8")).items():
        entries = (
            _block_entries(path, key, value, (*seen, real)) if _is_block(key) else {key: value}
        )
        for name, entry in entries.items():
            if name in merged:
                raise BlockError(f"{path}: {name} is declared twice (a block declares it)")
            merged[name] = entry
    return merged


def _block_entries(path: pathlib.Path, key, value, seen) -> CommentedMap:
    """The entries of the block ``key: !include:file`` with the values it gives."""
    tag = getattr(getattr(value, "tag", None), "value", None) or ""
    if not tag.startswith(_INCLUDE):
        raise BlockError(f"{path}: {key} must be an !include:<file> (a block to merge)")
    block_file = path.parent / tag[len(_INCLUDE):]
    block = _merged(block_file, seen)
    values = dict(value) if isinstance(value, dict) else {}
    unknown = [name for name in values if name not in block]
    if unknown:
        raise BlockError(f"{path}: {key}: {block_file} has no key {', '.join(unknown)}")
    for name, entry in values.items():
        block[name] = entry
    return block
