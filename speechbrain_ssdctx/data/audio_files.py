"""Finding the audio files a user points at and naming their utterances.

The command-line tools (``ssdctx-score``, ``ssdctx-plot``) and the benchmarks take files
and folders; :func:`find_audio` expands them into files and :func:`utterance_ids` gives
each file the utterance id its score line carries (the file name without extension, as
ASVspoof score files and protocols name utterances).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

from speechbrain_ssdctx.utils.textio import is_stream, read_input, read_lines

__all__ = ["AUDIO_EXTENSIONS", "UtteranceIdError", "find_audio", "utterance_ids"]

#: Extensions collected when a folder is walked.
AUDIO_EXTENSIONS = (".flac", ".wav", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".aif", ".au")


class UtteranceIdError(ValueError):
    """Files whose names cannot be the utterance ids of a score file."""


def find_audio(inputs: Sequence[str | os.PathLike], extensions=AUDIO_EXTENSIONS) -> list[str]:
    """Files given directly, plus audio files found recursively in given folders.

    A symbolic link in a folder that points nowhere is kept (it fails when read, and
    ``ssdctx-score`` lists it with its failures) rather than skipped without a word.
    An input that is ``-`` (stdin), a pipe, a FIFO or a process substitution
    (``<(find data -name '*.flac')``) is a list of audio files and folders, one per line
    (blank lines skipped), read once.

    Arguments
    ---------
    inputs : sequence of str or os.PathLike
        Files, folders and lists.
    extensions : tuple of str
        Lower-case extensions of the audio files to collect from folders.

    Returns
    -------
    list of str
        Files in argument order, each folder's files sorted.

    Example
    -------
    >>> files = find_audio(["tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_dev"])
    >>> [pathlib.Path(f).name for f in files]
    ['LA_D_1003356.flac']
    """
    files = []
    for given in inputs:
        if is_stream(given):
            files.extend(_listed_audio(given, extensions))
            continue
        item = pathlib.Path(given)
        if item.is_dir():
            found = [p for p in item.rglob("*") if p.suffix.lower() in extensions]
            files.extend(str(p) for p in sorted(found) if p.is_file() or _dangling(p))
        elif item.is_file():
            files.append(str(item))
        elif _dangling(item):
            raise FileNotFoundError(f"'{item}' is a dangling symbolic link to '{item.readlink()}'")
        else:
            raise FileNotFoundError(f"No such audio file or folder: '{item}'")
    if not files:
        raise FileNotFoundError(f"No audio files ({', '.join(extensions)}) in {list(inputs)}")
    return files


def _listed_audio(stream: str | os.PathLike, extensions) -> list[str]:
    """The audio of the files and folders a list (stdin, a pipe) names, one per line."""
    source = read_input(stream)
    try:
        lines = read_lines(source, ValueError)
    except ValueError as error:
        raise ValueError(
            f"{error} A pipe or '-' given as input is read as a list of audio files, one per "
            "line: audio itself cannot come through a pipe (write it to a file)."
        ) from None
    files = []
    for number, line in lines:
        if line.strip():
            try:
                files += find_audio([line.strip()], extensions)
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{source}, line {number}: {error}") from None
    return files


def _dangling(path: pathlib.Path) -> bool:
    return path.is_symlink() and not path.exists()


def utterance_ids(paths: Sequence[str], unique: bool = True, spaces: bool = False) -> list[str]:
    """File names without extension, checked for the score file they go into.

    Arguments
    ---------
    paths : sequence of str
        The audio files.
    unique : bool
        Two files with the same name are an error (txt output, protocols).
    spaces : bool
        Whether ids may hold spaces (TSV output); tabs and line breaks never.

    Returns
    -------
    list of str

    Example
    -------
    >>> utterance_ids(["a/LA_E_1.flac", "b/LA_E_2.wav"])
    ['LA_E_1', 'LA_E_2']
    >>> utterance_ids(["my file.wav"])
    Traceback (most recent call last):
      ...
    speechbrain_ssdctx.data.audio_files.UtteranceIdError: ...utterance id 'my file' ...
    """
    ids = [pathlib.Path(path).stem for path in paths]
    seen: dict[str, str] = {}
    for utt_id, path in zip(ids, paths, strict=True):
        bad = ("\t", "\n", "\r") if spaces else (" ", "\t", "\n", "\r")
        if not utt_id or any(char in utt_id for char in bad):
            allowed = "tabs or line breaks" if spaces else "whitespace"
            raise UtteranceIdError(
                f"'{path}': its utterance id {utt_id!r} is empty or holds {allowed}, which "
                "the score file cannot hold (rename the file, or use --format tsv for spaces)"
            )
        if unique and utt_id in seen:
            raise UtteranceIdError(
                f"Two files share the utterance id '{utt_id}': '{seen[utt_id]}' and '{path}' "
                "(use --format tsv, which keeps the paths, or score them separately)"
            )
        seen[utt_id] = path
    return ids
