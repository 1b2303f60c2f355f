"""pytest configuration shared by the tests and the docstring examples.

Docstring examples cannot carry a decorator: the slow ones (they train, build AASIST or an SSL
model, or read a whole official protocol: a second or more each) are marked here, so that
``pytest -m "not slow"`` stays fast. CI and ``python -m pytest -q`` still run them.
"""

import pytest
from _pytest.doctest import DoctestItem

#: Data, not tests: the scripts that made fixtures ran with the code of their time.
collect_ignore_glob = ["tests/fixtures/*"]

#: Docstring examples marked slow, by their doctest name.
SLOW_DOCTESTS = {
    "speechbrain_ssdctx.training.brain.DetectorBrain",
    "speechbrain_ssdctx.data.asvspoof.read_protocol_2019",
    "speechbrain_ssdctx.data.asvspoof.read_trial_list",
    "speechbrain_ssdctx.inference.spoof_detector.SpoofDetector",
    "speechbrain_ssdctx.inference.spoof_detector.SpoofDetector.score_each",
    "speechbrain_ssdctx.models.aasist.AASIST",
    "speechbrain_ssdctx.models.detector.Detector",
    "speechbrain_ssdctx.models.ssl.AASISTBackend",
    "speechbrain_ssdctx.models.ssl.SSLEncoder",
    "speechbrain_ssdctx.models.ssl.SSLDetector",
    "speechbrain_ssdctx.evaluation.plots.plot_tsne",
}


def pytest_collection_modifyitems(items):
    """Marks the docstring examples of :data:`SLOW_DOCTESTS` slow."""
    for item in items:
        if isinstance(item, DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
