"""Atomic file writing: a crash never leaves a half-written score file, manifest or table.

A file is written to a temporary file beside it and renamed over it once complete. The
result has the permissions an ordinary ``open(path, "w")`` would give: an existing file
keeps its mode, a new one gets ``0o666`` minus the umask. Temporary files are named after
the destination, the host and the process id (``.scores.txt.<random>.<host>-<pid>.tmp``),
so that the temporaries of a killed process can be told from those of a live writer and
removed (:func:`remove_orphan_temporaries`).

Authors
 * speechbrain-ssdctx contributors
"""

import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

__all__ = ["atomic_open", "remove_orphan_temporaries", "current_umask"]

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[^.]+\.(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)\.tmp$")


def _host_tag() -> str:
    """This host's name, reduced to the characters a temporary file name may hold."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where possible, which changes nothing).

    Example
    -------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no getter before Python 3.13's os.getumask: set and restore
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The mode ``open(path, "w")`` would leave: the existing file's, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextmanager
def atomic_open(path: str | os.PathLike, newline: str | None = None) -> Iterator[TextIO]:
    """Opens a text stream whose content replaces ``path`` only once fully written.

    The stream writes to a temporary file beside ``path`` (its folder is created if
    needed); when the block ends without an exception the file is flushed to disk, given
    the mode ``path`` has (or a new file would get under the umask) and renamed over
    ``path``. On an exception the temporary file is removed and ``path`` is left as it
    was. Temporaries of ``path`` left by killed processes are removed first.

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
    remove_orphan_temporaries(path.parent, name=path.name)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".{_host_tag()}-{os.getpid()}.tmp"
    )
    try:
        os.fchmod(handle, _mode_for(path))
        with os.fdopen(handle, "w", newline=newline, encoding="utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_orphan_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Removes the temporary files that killed processes of this host left in ``folder``.

    Only :func:`atomic_open` temporaries whose process is gone are removed; those of a
    live process (a concurrent writer) and of other hosts (a shared file system) are kept.

    Arguments
    ---------
    folder : str or path-like
        The folder to clean (a missing folder has nothing to clean).
    name : str, optional
        Only the temporaries of this destination file name.

    Returns
    -------
    list of pathlib.Path
        The removed files.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> orphan = folder / f".train.csv.x1y2.{_host_tag()}-999999999.tmp"
    >>> _ = orphan.write_text("half a manif")
    >>> [p.name == orphan.name for p in remove_orphan_temporaries(folder)]
    [True]
    """
    folder, host, removed = Path(folder), _host_tag(), []
    if not folder.is_dir():
        return removed
    for candidate in folder.glob(f".{name or '*'}.*.tmp"):
        match = _TEMPORARY.match(candidate.name)
        if match is None or match["host"] != host or (name and match["name"] != name):
            continue
        if not _process_alive(int(match["pid"])):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):
        return False
    return True
