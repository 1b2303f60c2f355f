"""The bundled ASVspoof 5 baseline AASIST: the organisers' outputs, by short name, licence."""

from pathlib import Path

import numpy as np
import pytest
import torch

from speechbrain_ssdctx.inference import SpoofDetector, bundled_models_dir
from speechbrain_ssdctx.pretrained import bundled_checkpoint, load_bundled_detector

REFERENCE = Path(__file__).parent / "fixtures" / "aasist_asvspoof5" / "reference_outputs.npz"
TOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


@pytest.mark.slow
def test_reproduces_the_organisers_outputs(reference, inputs="a_randn"):
    model = load_bundled_detector("aasist-asvspoof5")
    assert model.variant == "AASIST" and not model.training
    with torch.no_grad():
        embedding, logits = model(torch.from_numpy(reference[f"input__{inputs}"]))
    prefix = f"AASIST_ASVspoof5__{inputs}__"
    np.testing.assert_allclose(logits.numpy(), reference[prefix + "logits"], atol=TOL, rtol=0)
    np.testing.assert_allclose(embedding.numpy(), reference[prefix + "last_hidden"], atol=TOL,
                               rtol=0)


@pytest.mark.slow
def test_loads_by_short_name_with_the_official_score(reference):
    detector = SpoofDetector.from_hparams("aasist-asvspoof5")
    assert detector.score_type == "bonafide_logit"
    wavs = torch.from_numpy(reference["input__b_sine440"])
    np.testing.assert_allclose(detector.score_batch(wavs).numpy(),
                               reference["AASIST_ASVspoof5__b_sine440__score"], atol=TOL, rtol=0)


def test_weights_travel_with_their_licence_and_notice():
    assert bundled_checkpoint("AASIST-ASVspoof5").name == "AASIST-ASVspoof5.pth"
    licence = (bundled_models_dir() / "LICENSE-AASIST-ASVspoof5").read_text()
    assert "MIT" in licence or "Permission is hereby granted" in licence
    notice = (bundled_models_dir() / "NOTICE.md").read_text()
    assert "ASVspoof 5" in notice and "Out of domain" in notice
