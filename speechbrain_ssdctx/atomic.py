"""Atomic file writing: a crash never leaves a half-written score file, manifest or table.

Authors
 * speechbrain-ssdctx contributors
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_open(path: str | os.PathLike, newline: str | None = None) -> Iterator[TextIO]:
    """Opens a text stream whose content replaces ``path`` only once fully written.

    The stream writes to a temporary file beside ``path`` (its folder is created if
    needed); when the block ends without an exception the file is flushed to disk and
    renamed over ``path``. On an exception the temporary file is removed and ``path``
    is left as it was.

    Arguments
    ---------
    path : str or path-like
        The destination.
    newline : str, optional
        As for ``open`` (use ``""`` with the ``csv`` module).

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "scores.txt")
    >>> with atomic_open(path) as stream:
    ...     _ = stream.write("LA_E_1 0.5\\n")
    >>> open(path).read()
    'LA_E_1 0.5\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline=newline, encoding="utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
