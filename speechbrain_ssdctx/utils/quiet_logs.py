"""Silencing one SpeechBrain log line that never concerns this package.

Importing ``speechbrain.utils.train_logger`` (every recipe YAML builds its
``FileTrainLogger``, so ``recipes/train.py`` and ``ssdctx-export`` of a run folder import
it) logs "torchvision is not available - cannot save figures": SpeechBrain looks for
torchvision at import time for its ``ProgressSampleLogger`` image saver, which nothing
here uses. :func:`drop_torchvision_notice` filters that exact message out of that one
logger; every other message, of that logger too, still shows.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import logging

__all__ = ["TORCHVISION_NOTICE", "drop_torchvision_notice"]

#: The logger and message that are dropped.
TORCHVISION_NOTICE = ("speechbrain.utils.train_logger",
                      "torchvision is not available - cannot save figures")


class _DropMessage(logging.Filter):
    """Drops records whose message is exactly ``message``."""

    def __init__(self, message: str):
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


def drop_torchvision_notice() -> None:
    """Filters SpeechBrain's torchvision notice out of its train logger's log (once).

    Example
    -------
    >>> drop_torchvision_notice()
    >>> name, message = TORCHVISION_NOTICE
    >>> logging.getLogger(name).filter(logging.makeLogRecord({"msg": message}))
    False
    """
    name, message = TORCHVISION_NOTICE
    logger = logging.getLogger(name)
    if not any(isinstance(f, _DropMessage) and f.message == message for f in logger.filters):
        logger.addFilter(_DropMessage(message))
