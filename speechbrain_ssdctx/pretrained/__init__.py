"""Pretrained detectors shipped with the package, usable offline: the official AASIST and
AASIST-L weights (github.com/clovaai/aasist, Copyright (c) 2021-present NAVER Corp., MIT
licence in ``LICENSE-AASIST``; trained on ASVspoof 2019 LA) and the ASVspoof 5
organisers' baseline AASIST (github.com/asvspoof-challenge/asvspoof5, MIT licence in
``LICENSE-AASIST-ASVspoof5``; trained on ASVspoof 5). See ``NOTICE.md``.

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

_CHECKPOINTS = {
    "aasist": "AASIST.pth",
    "aasist-l": "AASIST-L.pth",
    "aasist-asvspoof5": "AASIST-ASVspoof5.pth",
}


def bundled_checkpoint(name: str) -> Path:
    """Path of a bundled official checkpoint.

    Arguments
    ---------
    name : str
        ``"aasist"``, ``"aasist-l"`` or ``"aasist-asvspoof5"`` (case-insensitive).

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
        ``"aasist"``, ``"aasist-l"`` or ``"aasist-asvspoof5"`` (case-insensitive).

    Returns
    -------
    AASIST
    """
    return AASIST.from_official_checkpoint(bundled_checkpoint(name))


def build_aasist(variant: str = "AASIST", init_from: str | None = None) -> AASIST:
    """An AASIST to train: from scratch, or from official weights (fine-tuning).

    For recipes: ``init_from`` is a bundled name (``"aasist"``, ``"aasist-l"``), the path
    of an official state_dict, or None (random initialisation). The weights must be of
    ``variant``. The model is returned in training mode.

    Example
    -------
    >>> model = build_aasist("AASIST-L", init_from="aasist-l")
    >>> model.training, model.variant
    (True, 'AASIST-L')
    """
    if init_from is None:
        return AASIST(variant)
    path = Path(init_from)
    if not path.is_file():
        path = bundled_checkpoint(init_from)
    model = AASIST.from_official_checkpoint(path)
    if model.variant != variant:
        raise ValueError(f"init_from={init_from!r} holds {model.variant} weights, not {variant}")
    return model.train()


__all__ = ["build_aasist", "bundled_checkpoint", "load_bundled_detector"]
