"""Pretrained detectors shipped with the package: the official AASIST and AASIST-L weights
(github.com/clovaai/aasist, Copyright (c) 2021-present NAVER Corp., MIT licence in
``LICENSE-AASIST``), usable offline.

Example
-------
>>> bundled_checkpoint("AASIST-L").name
'AASIST-L.pth'
>>> model = load_bundled_detector("aasist-l")
>>> model.variant, model.training
('AASIST-L', False)
"""

from __future__ import annotations

from pathlib import Path

from speechbrain_ssdctx.models.aasist import AASIST

_CHECKPOINTS = {"aasist": "AASIST.pth", "aasist-l": "AASIST-L.pth"}


def bundled_checkpoint(name: str) -> Path:
    """Path of a bundled official checkpoint.

    Arguments
    ---------
    name : str
        ``"aasist"`` or ``"aasist-l"`` (case-insensitive).

    Returns
    -------
    pathlib.Path
    """
    key = name.lower()
    if key not in _CHECKPOINTS:
        raise ValueError(f"No bundled detector {name!r}; available: {sorted(_CHECKPOINTS)}")
    return Path(__file__).resolve().parent / _CHECKPOINTS[key]


def load_bundled_detector(name: str) -> AASIST:
    """A bundled pretrained detector, in eval mode (call ``.train()`` to fine-tune).

    Arguments
    ---------
    name : str
        ``"aasist"`` or ``"aasist-l"`` (case-insensitive).

    Returns
    -------
    AASIST
    """
    return AASIST.from_official_checkpoint(bundled_checkpoint(name))


__all__ = ["bundled_checkpoint", "load_bundled_detector"]
