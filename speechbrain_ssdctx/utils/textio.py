"""Reading the text files users bring (score files, protocols, keys) with clear errors.

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
from pathlib import Path

__all__ = ["read_lines"]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def read_lines(
    path: str | os.PathLike, error: type[Exception] = ValueError
) -> list[tuple[int, str]]:
    """Returns ``(line number, line)`` for every line of a UTF-8 text file.

    Arguments
    ---------
    path : str or path-like
        The file.
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
    path = Path(path)
    data = path.read_bytes()
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
