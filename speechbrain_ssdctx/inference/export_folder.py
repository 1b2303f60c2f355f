"""Where an export is written: a new folder, or over an earlier export, replaced whole.

An export never mixes with what its destination holds. It is written into a staging
folder beside the destination (``.<name>.export-<pid>``), checked there (loaded back and
scored), and only then moved into place: a new destination is one rename; an earlier
export is swapped with the staging folder in one atomic exchange where the system has
one (Linux ``renameat2(RENAME_EXCHANGE)``), else by two renames. A killed export thus
leaves the old export or the new one, never a folder mixing the two; an export whose
check fails leaves the destination as it was. A destination that holds anything else
(the user's own files, a clone of a Hub repository with its ``.git``) is refused.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import pathlib
import shutil
from collections.abc import Callable, Iterator

#: What an export writes into its folder; an existing export holds nothing else.
EXPORT_FILES = frozenset({
    "hyperparams.yaml", "detector.ckpt", "custom_interface.py", "training_hyperparams.yaml",
    "README.md", "ssl",
})

#: Words of the first lines of every exported ``hyperparams.yaml`` (all versions).
EXPORT_MARK = "exported by speechbrain-ssdctx"


class ExportError(ValueError):
    """A model cannot be exported; the message says which file or setting and why."""


def weights_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file (the weights' hash an export writes into its YAML).

    Example
    -------
    >>> path = getfixture("tmp_path") / "w.ckpt"
    >>> _ = path.write_bytes(b"abc")
    >>> weights_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_export(folder: pathlib.Path) -> bool:
    """Whether ``folder`` is a model folder written by an export, and holds nothing else.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "README.md").write_text("my notes")
    >>> is_export(folder)
    False
    """
    names = {entry.name for entry in folder.iterdir()}
    hyperparams = folder / "hyperparams.yaml"
    if not names <= EXPORT_FILES or not (folder / "detector.ckpt").is_file():
        return False
    if not hyperparams.is_file():
        return False
    with open(hyperparams, encoding="utf-8", errors="replace") as stream:
        head = stream.read(1024)
    return EXPORT_MARK in head


def check_destination(
    out_dir: pathlib.Path, is_ours: Callable[[pathlib.Path], bool] = is_export
) -> None:
    """Refuses a destination that is neither new, empty, nor an earlier export.

    ``is_ours`` tells an earlier export of the same kind (default: a model folder,
    :func:`is_export`; the ONNX / TorchScript folders have their own).

    Raises
    ------
    ExportError
        One line naming the folder and what it holds.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "README.md").write_text("my notes")
    >>> check_destination(folder)
    Traceback (most recent call last):
    ...
    speechbrain_ssdctx.inference.export_folder.ExportError: Refusing to export into ...
    """
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir():
        raise ExportError(f"Refusing to export into '{out_dir}': it is a file, not a folder")
    if not any(out_dir.iterdir()) or is_ours(out_dir):
        return
    held = sorted(entry.name for entry in out_dir.iterdir())
    shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
    raise ExportError(
        f"Refusing to export into '{out_dir}': it holds files that are not an export "
        f"({shown}), which the export would replace; choose a new or empty folder"
    )


@contextlib.contextmanager
def staged_export(
    out_dir: pathlib.Path, is_ours: Callable[[pathlib.Path], bool] = is_export
) -> Iterator[pathlib.Path]:
    """A staging folder beside ``out_dir``, moved into place when the block succeeds.

    ``is_ours``: what an earlier export of this kind looks like (see
    :func:`check_destination`).

    The block writes and checks the export in the folder it is given. When it ends
    without an exception, the staging folder replaces ``out_dir`` (see
    :func:`replace_folder`); otherwise it is removed and ``out_dir`` is left as it was.

    Example
    -------
    >>> out = getfixture("tmp_path") / "model"
    >>> with staged_export(out) as staging:
    ...     _ = (staging / "hyperparams.yaml").write_text("x: 1")
    >>> sorted(path.name for path in out.iterdir())
    ['hyperparams.yaml']
    """
    check_destination(out_dir, is_ours)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed export of this pid
    staging.mkdir()
    try:
        yield staging
        check_destination(out_dir, is_ours)  # nothing of the user's appeared meanwhile
        replace_folder(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_folder(new: pathlib.Path, old: pathlib.Path) -> None:
    """Moves the folder ``new`` to ``old``; an existing ``old`` ends at ``new``'s path.

    An empty or missing ``old`` is replaced by one rename. An existing one is exchanged
    with ``new`` atomically where the system allows it, else renamed aside first (a kill
    between the two renames leaves the old folder at ``.<name>.old-<pid>``, the new one at
    the staging path: both whole).
    """
    if not old.exists():
        os.replace(new, old)
        return
    if not any(old.iterdir()):
        old.rmdir()
        os.replace(new, old)
        return
    if _exchange(new, old):
        return
    aside = old.parent / f".{old.name}.old-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(old, aside)
    os.replace(new, old)
    os.replace(aside, new)


def _exchange(first: pathlib.Path, second: pathlib.Path) -> bool:
    """Swaps two paths atomically (Linux ``renameat2``); False where not supported."""
    name = ctypes.util.find_library("c")
    try:
        renameat2 = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    status = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                       rename_exchange)
    return status == 0
