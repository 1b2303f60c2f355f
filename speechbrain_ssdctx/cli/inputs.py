"""The text inputs of a command line read once: ``-`` (stdin), pipes, FIFOs, ``<(...)``.

``zcat scores.gz | ssdctx-eval - --key key.txt`` and ``ssdctx-eval <(zcat scores.gz)
--key <(zcat key.gz)`` read each stream once into memory
(:class:`speechbrain_ssdctx.utils.textio.TextInput`); the readers then look at that copy as
often as they need (to tell formats apart, then to parse). Regular files stay paths.
Standard input can feed one input only.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from speechbrain_ssdctx.utils.textio import STDIN, is_stream, read_input

__all__ = ["check_one_stdin", "read_streams"]


def check_one_stdin(inputs: Mapping[str, object]) -> None:
    """Refuses ``-`` (standard input) for more than one input.

    Arguments
    ---------
    inputs : mapping
        Option name (as the user wrote it) to its value (a path, a list of paths or None).

    Example
    -------
    >>> check_one_stdin({"scores": "-", "--key": "key.txt"})
    >>> check_one_stdin({"scores": "-", "--key": "-"})
    Traceback (most recent call last):
      ...
    ValueError: only one input can be read from stdin ('-'); scores and --key both are
    """
    named = []
    for name, value in inputs.items():
        values = value if isinstance(value, list | tuple) else [value]
        named += [name for item in values if item is not None and os.fspath(item) == STDIN]
    if len(named) > 1:
        raise ValueError(
            f"only one input can be read from stdin ('-'); {' and '.join(named)} both are"
        )


def read_streams(args: argparse.Namespace, options: Mapping[str, str]) -> None:
    """Replaces every stream among ``args``' text inputs by its text, read once.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed arguments; the attributes named in ``options`` that are ``-``, pipes or
        FIFOs become ``TextInput`` objects (files and ``None`` are kept).
    options : mapping
        Attribute name to the option's name on the command line (for messages).

    Example
    -------
    >>> args = argparse.Namespace(scores="README.md", key=None)
    >>> read_streams(args, {"scores": "scores", "key": "--key"})
    >>> args.scores, args.key
    ('README.md', None)
    """
    check_one_stdin({name: getattr(args, attribute) for attribute, name in options.items()})
    for attribute in options:
        value = getattr(args, attribute)
        if value is not None and is_stream(value):
            setattr(args, attribute, read_input(value))
