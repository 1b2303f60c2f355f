"""One training run per output folder: a lock file held while a run writes the folder.

Two runs started in one output folder would both train, log every epoch twice and delete
each other's checkpoints. :class:`RunLock` takes an exclusive ``fcntl`` lock on
``<folder>/.ssdctx.lock`` (holding the pid of its run) for the life of the process; a
second run is refused with the first one's pid. The kernel drops the lock when its
process ends, however it ends, so the lock file of a killed run is taken over.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_FILE", "RunLock", "RunLockedError"]

#: The lock file's name in an output folder.
LOCK_FILE = ".ssdctx.lock"


class RunLockedError(RuntimeError):
    """Another live process holds the output folder's lock."""


class RunLock:
    """An exclusive lock on an output folder, held until :meth:`release` or the process ends.

    A process that already holds a folder's lock (a recipe started twice in one process,
    as tests do) takes it again.

    Arguments
    ---------
    folder : str or pathlib.Path
        The run's output folder (created if missing).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> lock = RunLock(folder).acquire()
    >>> (Path(folder) / LOCK_FILE).read_text().strip() == str(os.getpid())
    True
    >>> lock.release()
    """

    #: The lock files this process holds, by resolved path.
    held: dict[Path, object] = {}

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / LOCK_FILE
        self._file = None

    def acquire(self) -> RunLock:
        """Takes the lock (a stale lock file of a dead run is taken over).

        Raises
        ------
        RunLockedError
            If another live process holds it; the message names its pid.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        if key in RunLock.held:
            self._file = RunLock.held[key]
            return self
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise RunLockedError(
                f"{self.path.parent} is in use by another training run (pid {owner}); "
                "wait for it to end, or give another --output_folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = RunLock.held[key] = handle
        return self

    def release(self) -> None:
        """Drops the lock (the file stays, unlocked)."""
        if self._file is not None:
            RunLock.held.pop(self.path.resolve(), None)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
