"""A command-line tool whose reader goes away ends quietly.

``ssdctx-eval scores.txt --protocol p.txt | head -3`` closes the pipe after three lines;
Python then raises ``BrokenPipeError`` at the next write (or when it flushes stdout on
exit) and prints a traceback. :func:`quiet_on_closed_reader` wraps a tool's ``main`` so
that a closed reader ends it quietly with status 141 (128 + SIGPIPE, the status a shell
gives a writer its reader closed, e.g. ``yes | head``), the recipe of Python's ``signal``
documentation: further output goes to ``/dev/null`` so that the flush at exit cannot fail
again. The tools' own ``except OSError`` handlers let ``BrokenPipeError`` through.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["CLOSED_READER_STATUS", "quiet_on_closed_reader"]

#: Exit status after the reader of stdout went away: 128 + SIGPIPE (13).
CLOSED_READER_STATUS = 141

Main = Callable[[Sequence[str] | None], int]


def quiet_on_closed_reader(main: Main) -> Main:
    """Wraps a tool's ``main(argv) -> status``: a closed stdout ends it with status 141.

    Arguments
    ---------
    main : callable
        The tool's entry point.

    Returns
    -------
    callable
        The same entry point, which flushes stdout before returning.

    Example
    -------
    >>> @quiet_on_closed_reader
    ... def tool(argv=None):
    ...     print("scores")
    ...     return 0
    >>> tool([])
    scores
    0
    """

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            status = main(argv)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return CLOSED_READER_STATUS
        return status

    return wrapper
