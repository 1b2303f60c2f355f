"""Output files of the command-line tools never replace one of their inputs.

``ssdctx-plot det scores.txt --out scores.txt`` would turn the score file into a PNG;
``ssdctx-calibrate apply cal.json s.txt --out cal.json`` would replace the calibration.
:func:`check_not_inputs` refuses such an ``--out`` before anything is computed. Two paths
are the same file when they resolve to the same path (links followed) or, both existing,
are the same file on disk (hard links).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Mapping

__all__ = ["OutputIsInputError", "check_not_inputs", "same_file"]


class OutputIsInputError(ValueError):
    """An output path that names one of the tool's input files."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved, or the same inode).

    Example
    -------
    >>> same_file("README.md", "./docs/../README.md"), same_file("README.md", "setup.cfg")
    (True, False)
    """
    a, b = pathlib.Path(a), pathlib.Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_not_inputs(
    outputs: Mapping[str, str | os.PathLike | None],
    inputs: Iterable[str | os.PathLike | None],
) -> None:
    """Raises :class:`OutputIsInputError` if an output is one of the inputs, or two
    outputs are the same file.

    Arguments
    ---------
    outputs : mapping
        Option (e.g. ``"--out"``) to path; None for an option not given.
    inputs : iterable
        The files the tool reads (None entries are skipped).

    Example
    -------
    >>> check_not_inputs({"--out": "det.png", "--table": None}, ["scores.txt"])
    >>> check_not_inputs({"--out": "scores.txt"}, ["scores.txt", None])
    Traceback (most recent call last):
      ...
    speechbrain_ssdctx.cli.outputs.OutputIsInputError: --out 'scores.txt' is one of the input...
    """
    inputs = [path for path in inputs if path is not None]
    written: dict[str, str | os.PathLike] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        if any(same_file(path, source) for source in inputs):
            raise OutputIsInputError(
                f"{option} '{os.fspath(path)}' is one of the input files; writing it would "
                "destroy that input (give another file name)"
            )
        for other, earlier in written.items():
            if same_file(path, earlier):
                raise OutputIsInputError(f"{other} and {option} are the same file '{path}'")
        written[option] = path
