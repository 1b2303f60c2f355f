"""Reading the text inputs users bring (score files, protocols, keys, lists) with clear errors.

An input is a file, a pipe, a FIFO, a process substitution (``<(zcat scores.gz)``) or
``-`` (standard input). A pipe can be read only once, so :func:`read_input` reads any of
them once into a :class:`TextInput`, which every reader of the package accepts in place of
a path: a reader that looks at the text twice (to tell formats apart, then to parse)
looks at the copy in memory.

Score files and protocols come from many tools and editors: a UTF-8 byte-order mark, a
file saved as UTF-16 by a Windows editor, Windows line endings. ``read_lines`` accepts
UTF-8 with or without a BOM and any line ending, and refuses anything else with one
line naming the file (instead of an invisible ``\\ufeff`` in the first id, or a
``'utf-8' codec can't decode`` error without a file name).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
import sys
from pathlib import Path

__all__ = ["STDIN", "TextInput", "is_readable", "is_stream", "read_input", "read_lines"]

#: The name that stands for standard input on a command line.
STDIN = "-"

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class TextInput:
    """The bytes of one text input (a file, a pipe, a FIFO or stdin), read once.

    Readers accept it wherever they accept a path; messages name it by ``name``.

    Arguments
    ---------
    name : str
        How messages name the input (its path, or ``<stdin>``).
    data : bytes
        Its content.
    stream : bool
        Whether it came from a pipe, a FIFO or stdin (it has no file to read again).

    Example
    -------
    >>> source = TextInput("<stdin>", b"a 0.5\\n", stream=True)
    >>> str(source), source.suffix, read_lines(source)
    ('<stdin>', '', [(1, 'a 0.5')])
    """

    def __init__(self, name: str, data: bytes, stream: bool = False):
        self.name, self.data, self.stream = name, data, stream
        self._lines: list[tuple[int, str]] | None = None

    @property
    def suffix(self) -> str:
        """The lower-case extension of its name (``""`` for stdin and ``/dev/fd/N``)."""
        return "" if self.name == "<stdin>" else Path(self.name).suffix.lower()

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"TextInput({self.name!r}, {len(self.data)} bytes)"


def is_stream(path: str | os.PathLike | TextInput) -> bool:
    """Whether ``path`` is ``-`` (stdin) or names something that is read once (a pipe,
    a FIFO, ``/dev/stdin``, a process substitution) rather than a regular file or folder.

    Example
    -------
    >>> is_stream("-"), is_stream("README.md"), is_stream("no/such/file")
    (True, False, False)
    """
    if isinstance(path, TextInput):
        return path.stream
    if os.fspath(path) == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def is_readable(path: str | os.PathLike | TextInput) -> bool:
    """Whether ``path`` can be read as text: a file, a stream, ``-`` or a :class:`TextInput`.

    Example
    -------
    >>> is_readable("-"), is_readable("README.md"), is_readable("."), is_readable("no/such")
    (True, True, False, False)
    """
    return is_stream(path) or Path(path).is_file()


def read_input(path: str | os.PathLike | TextInput) -> TextInput:
    """Reads a file, a pipe, a FIFO or stdin (``-``) once; a :class:`TextInput` is kept.

    Arguments
    ---------
    path : str, path-like or TextInput
        The input; ``-`` is standard input.

    Returns
    -------
    TextInput
        Its bytes, named by ``path`` (``<stdin>`` for ``-``).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "key.txt"
    >>> _ = path.write_text("x\\n")
    >>> source = read_input(path)
    >>> source.data, read_input(source) is source, source.stream
    (b'x\\n', True, False)
    """
    if isinstance(path, TextInput):
        return path
    if os.fspath(path) == STDIN:
        return TextInput("<stdin>", sys.stdin.buffer.read(), stream=True)
    stream = is_stream(path)
    with open(path, "rb") as file:
        return TextInput(os.fspath(path), file.read(), stream=stream)


def read_lines(
    path: str | os.PathLike | TextInput, error: type[Exception] = ValueError
) -> list[tuple[int, str]]:
    """Returns ``(line number, line)`` for every line of a UTF-8 text input.

    A :class:`TextInput` is decoded once (it keeps its lines); a path is read each time.

    Arguments
    ---------
    path : str, path-like or TextInput
        The file, pipe, FIFO, ``-`` (stdin) or an input read by :func:`read_input`.
    error : exception class
        What to raise (with a message naming the file) when the file is not UTF-8 text.

    Returns
    -------
    list of (int, str)
        Numbered lines (from 1), without their line endings.

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.txt"
    >>> _ = path.write_bytes(codecs.BOM_UTF8 + b"a 0.5\\r\\nb 1.0\\r\\n")
    >>> read_lines(path)
    [(1, 'a 0.5'), (2, 'b 1.0')]
    >>> _ = path.write_bytes("a 0.5\\n".encode("utf-16"))
    >>> read_lines(path)
    Traceback (most recent call last):
    ...
    ValueError: ...: the file is UTF-16 text; save it as UTF-8 (or ASCII) text.
    """
    source = read_input(path)
    if source._lines is None:
        source._lines = _decode(source.name, source.data, error)
    return source._lines


def _decode(path: str, data: bytes, error: type[Exception]) -> list[tuple[int, str]]:
    """The numbered lines of UTF-8 text, or ``error`` naming ``path`` and saying why not."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        raise error(f"{path}: the file is UTF-16 text; save it as UTF-8 (or ASCII) text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as decode_error:
        line = data[: decode_error.start].count(b"\n") + 1
        raise error(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[decode_error.start]:02x} "
            f"at offset {decode_error.start}); save the file as UTF-8 text."
        ) from None
    if "\x00" in text:
        raise error(f"{path}: the file holds NUL bytes: it is not a text file.")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return list(enumerate(lines, start=1))


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of ASCII text is NUL."""
    head = data[:200]
    quarter = len(head) // 4
    return len(head) >= 4 and max(head[0::2].count(0), head[1::2].count(0)) > quarter


def parse_number(text: str) -> float:
    """A finite decimal number, or a ValueError saying why not.

    Example
    -------
    >>> parse_number("-1.5e-3")
    -0.0015
    >>> parse_number("1_5")
    Traceback (most recent call last):
    ...
    ValueError: '1_5' is not a number
    """
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value
