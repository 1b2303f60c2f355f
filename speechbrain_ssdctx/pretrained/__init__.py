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

    ``init_from`` is a bundled name (``"aasist"``, ``"aasist-l"``), the path of an
    official state_dict, or None (random initialisation); see :func:`init_from_official`.
    The model is returned in training mode.

    Example
    -------
    >>> model = build_aasist("AASIST-L", init_from="aasist-l")
    >>> model.training, model.variant
    (True, 'AASIST-L')
    """
    model = AASIST(variant)
    init_from_official(model, init_from)
    return model.train()


def init_from_official(model: AASIST, init_from: str | None) -> None:
    """Loads official AASIST weights into ``model`` (fine-tuning), or does nothing.

    For recipes, after the detector block is built::

        __init_from: !apply:speechbrain_ssdctx.pretrained.init_from_official
            model: !ref <detector>
            init_from: !ref <init_from>

    Arguments
    ---------
    model : AASIST
        The model to fill.
    init_from : str or None
        A bundled name (``"aasist"``, ``"aasist-l"``), the path of an official
        state_dict, or None (the model keeps its weights).

    Example
    -------
    >>> import torch
    >>> model = AASIST("AASIST-L")
    >>> init_from_official(model, "aasist-l")
    >>> torch.equal(model.pos_S, load_bundled_detector("aasist-l").pos_S)
    True
    """
    if init_from is None:
        return
    path = Path(init_from)
    if not path.is_file():
        path = bundled_checkpoint(init_from)
    official = AASIST.from_official_checkpoint(path)
    if official.variant != model.variant:
        raise ValueError(
            f"init_from={init_from!r} holds {official.variant} weights, not {model.variant}"
        )
    model.load_state_dict(official.state_dict())


__all__ = ["build_aasist", "bundled_checkpoint", "init_from_official", "load_bundled_detector"]
