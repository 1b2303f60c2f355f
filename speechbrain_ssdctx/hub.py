"""Export a trained model as a shareable folder and push it to the HuggingFace Hub.

A training output folder (written by ``recipes/train.py``) holds ``inference.yaml`` (the
detector definition and window policy), SpeechBrain checkpoints in ``save/``,
``results.json`` / ``results.md`` and the training ``hyperparams.yaml``.
:func:`export_model` turns it into a folder that
:meth:`speechbrain_ssdctx.inference.SpoofDetector.from_hparams` loads offline:
``hyperparams.yaml`` (inference), ``detector.ckpt`` (the weights of the checkpoint with
the lowest dev EER), ``training_hyperparams.yaml`` and a ``README.md`` model card. When
the run holds ``calibration.json`` (fitted on the dev scores), it is stored in
``hyperparams.yaml`` and the exported model returns calibrated log-likelihood ratios.

Authors
 * speechbrain-ssdctx contributors 2025
"""

import difflib
import json
import os
import pathlib
import shutil
from dataclasses import dataclass

import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ssdctx.calibration import Calibration
from speechbrain_ssdctx.inference import load_weights
from speechbrain_ssdctx.report import results_markdown

#: How the lines of the header of SpeechBrain's copy of the training hyperparameters
#: start (``speechbrain.core.create_experiment_directory``): date, recipe path, yamllint.
SPEECHBRAIN_HEADER = ("# Generated ", "# ", "# yamllint disable")

#: The score of each ``score_type``, in words, for the model card.
SCORE_MEANINGS = {
    "log_odds": "the bona fide log-odds, logit(bona fide) - logit(spoof)",
    "bonafide_logit": "the bona fide logit (as the official AASIST code)",
}

#: Keys that export adds to ``inference.yaml``; the training side must not define them.
ADDED_KEYS = ("threshold", "modules", "pretrainer", "calibration")

CALIBRATION_BLOCK = """
# Score calibration fitted on the development scores: llr = slope * score + offset is a
# natural-log likelihood ratio (bona fide vs spoof); see docs/evaluation.md.
calibration:
    slope: {slope!r}
    offset: {offset!r}
    prior: {prior!r}
"""

INFERENCE_BLOCK = """
# ---- added by ssdctx-export ----
# Decision threshold on the score: the EER threshold on the development set.
threshold: {threshold!r}
score_type: {score_type}

modules:
    detector: !ref <detector>

# No paths: the weights are <source>/detector.ckpt of the folder or Hub repository
# this file is loaded from. load_weights reads them with torch.load(weights_only=True).
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        detector: !ref <detector>
    custom_hooks:
        detector: !name:speechbrain_ssdctx.inference.load_weights
"""


class ExportError(ValueError):
    """A training output folder cannot be exported; the message says which file and why."""


class HubUploadError(RuntimeError):
    """Uploading to the HuggingFace Hub failed (no token, no network, refused)."""


@dataclass
class TrainingRun:
    """What export needs from a training output folder.

    Arguments
    ---------
    folder : pathlib.Path
        The training output folder.
    inference_yaml : str
        Text of ``inference.yaml``.
    checkpoint : pathlib.Path
        ``detector.ckpt`` of the checkpoint with the lowest dev EER.
    checkpoint_eer : float
        Its dev EER (%) from ``CKPTINFO.yaml``.
    results : dict
        ``results.json``.
    results_md : str
        ``results.md`` (empty if absent).
    hyperparams : str
        The training ``hyperparams.yaml`` as run (empty if absent).
    calibration : Calibration, optional
        The dev-set calibration (``calibration.json``), if the run has one.
    """

    folder: pathlib.Path
    inference_yaml: str
    checkpoint: pathlib.Path
    checkpoint_eer: float
    results: dict
    results_md: str
    hyperparams: str
    calibration: Calibration | None = None

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "TrainingRun":
        """Reads a training output folder, raising :class:`ExportError` on what is missing."""
        folder = pathlib.Path(folder)
        if not folder.is_dir():
            raise ExportError(f"Training output folder '{folder}' does not exist")
        checkpoint = Checkpointer(folder / "save").find_checkpoint(min_key="EER")
        if checkpoint is None or "detector" not in checkpoint.paramfiles:
            raise ExportError(
                f"'{folder / 'save'}' holds no checkpoint with an EER and a detector.ckpt"
            )
        results_json = _read_required(folder / "results.json")
        try:
            results = json.loads(results_json)
        except json.JSONDecodeError as error:
            raise ExportError(f"'{folder / 'results.json'}' is not valid JSON: {error}") from error
        if "eer_threshold" not in results.get("dev", {}):
            raise ExportError(f"'{folder / 'results.json'}' has no dev threshold")
        return cls(
            folder=folder,
            inference_yaml=_read_required(folder / "inference.yaml"),
            checkpoint=pathlib.Path(checkpoint.paramfiles["detector"]),
            checkpoint_eer=float(checkpoint.meta["EER"]),
            results=results,
            results_md=_read_optional(folder / "results.md"),
            hyperparams=_read_optional(folder / "hyperparams.yaml"),
            calibration=_read_calibration(folder / "calibration.json"),
        )

    @property
    def threshold(self) -> float:
        """The dev EER threshold: the model's decision threshold."""
        return float(self.results["dev"]["eer_threshold"])

    @property
    def recipe(self) -> str:
        """The recipe YAML named in the header SpeechBrain writes (e.g. ``hparams/x.yaml``)."""
        path = _recipe_path(self.hyperparams)
        return "/".join(path.parts[-2:]) if path else "unknown"

    def overrides_diff(self) -> str:
        """A unified diff between the recipe YAML and the hyperparameters as run.

        Empty when they agree or when the recipe file cannot be found.
        """
        path = _recipe_path(self.hyperparams)
        if path is None or not path.is_file():
            return ""
        with open(path, encoding="utf-8") as recipe:
            original = resolve_references(recipe).getvalue().splitlines()
        as_run = self.hyperparams.splitlines()[len(SPEECHBRAIN_HEADER) :]
        diff = difflib.unified_diff(original, as_run, "recipe", "as run", lineterm="", n=0)
        return "\n".join(diff)


def export_model(
    training_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    name: str | None = None,
    license: str = "apache-2.0",
    training_data: str = "ASVspoof 2019 LA training partition",
) -> pathlib.Path:
    """Writes an inference folder from a training output folder.

    The detector is rebuilt from ``inference.yaml`` and the checkpoint is loaded into
    it strictly (``weights_only``) before its state_dict is saved, so a folder that
    exports also loads.

    Arguments
    ---------
    training_dir : str or os.PathLike
        The training output folder (see the module docstring).
    out_dir : str or os.PathLike
        Where to write the model folder (created; existing files are replaced).
    name : str, optional
        Model name for the card (default: ``out_dir``'s name).
    license : str
        Licence identifier of the weights, for the card's metadata.
    training_data : str
        The training data, in words, for the card.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    run = TrainingRun.read(training_dir)
    out_dir = pathlib.Path(out_dir)
    hparams = _load_inference_hparams(run)
    detector = hparams["detector"]
    load_weights(detector, run.checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    score_type = hparams.get("score_type", "log_odds")
    block = INFERENCE_BLOCK.format(threshold=run.threshold, score_type=score_type)
    if "score_type" in hparams:
        block = block.replace(f"score_type: {score_type}\n", "")
    if run.calibration is not None:
        block += CALIBRATION_BLOCK.format(**run.calibration.to_dict())
    (out_dir / "hyperparams.yaml").write_text(run.inference_yaml.rstrip() + "\n" + block)
    torch.save(detector.state_dict(), out_dir / "detector.ckpt")
    if run.hyperparams:
        shutil.copyfile(run.folder / "hyperparams.yaml", out_dir / "training_hyperparams.yaml")
    card = model_card(run, hparams, name or out_dir.name, license, training_data)
    (out_dir / "README.md").write_text(card)
    return out_dir


def model_card(run: TrainingRun, hparams: dict, name: str, license: str, training_data: str) -> str:
    """The ``README.md`` model card of an exported model.

    Arguments
    ---------
    run : TrainingRun
        The training output.
    hparams : dict
        ``inference.yaml`` loaded (for the detector and window policy).
    name : str
        Model name (folder or Hub repository).
    license : str
        Licence identifier of the weights.
    training_data : str
        The training data, in words.

    Returns
    -------
    str
    """
    detector = type(hparams["detector"]).__name__
    n_params = sum(p.numel() for p in hparams["detector"].parameters())
    window = hparams["window_policy"]
    if window == "first":
        window += f" ({hparams['window_samples']} samples, repeat-padded)"
    elif window == "official":
        window += " (first 64,600 samples, repeat-padded, as the official AASIST code)"
    diff = run.overrides_diff()
    overrides = f"```diff\n{diff}\n```" if diff else "None found (or the recipe file was absent)."
    results = run.results_md.strip() or results_markdown(run.results)
    return MODEL_CARD.format(
        name=name,
        license=license,
        detector=detector,
        n_params=f"{n_params:,}",
        training_data=training_data,
        recipe=run.recipe,
        overrides=overrides,
        results=results,
        threshold=f"{run.threshold:.6g}",
        dev_eer=f"{float(run.results['dev'].get('eer', float('nan'))):.3f}",
        ckpt_eer=f"{run.checkpoint_eer:.3f}",
        score_meaning=SCORE_MEANINGS[hparams.get("score_type", "log_odds")],
        sample_rate=hparams["sample_rate"],
        window=window,
        calibration=_calibration_note(run.calibration),
    )


def _calibration_note(calibration: Calibration | None) -> str:
    """The model card's paragraph on the stored calibration (empty without one)."""
    if calibration is None:
        return ""
    return (
        f"\nThe model also stores a calibration fitted on the development scores: "
        f"`llr = {calibration.slope:.6g} * score + {calibration.offset:.6g}` is a "
        "natural-log likelihood ratio. `classify_file` returns it with the posterior "
        "probability of bona fide at the prior of the decision costs and the Bayes decision "
        "for those costs (default: ASVspoof 5 Track 1, Pspoof 0.05, Cmiss 1, Cfa 10). It "
        "holds for data like the development set; recalibrate on your own data with "
        "`ssdctx-calibrate`.\n"
    )


def push_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    api=None,
) -> str:
    """Uploads an exported model folder to a HuggingFace model repository.

    Arguments
    ---------
    folder : str or os.PathLike
        A folder written by :func:`export_model`.
    repo_id : str
        ``ORG/NAME`` (created if missing).
    token : str, optional
        A HuggingFace token with write access (default: ``HF_TOKEN`` or the stored login).
    private : bool
        Create the repository as private.
    api : huggingface_hub.HfApi, optional
        The client (default: ``HfApi()``).

    Returns
    -------
    str
        The URL of the upload commit.

    Raises
    ------
    HubUploadError
        When there is no token, the Hub cannot be reached (offline mode, no network) or
        refuses the upload.
    """
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    api = api or huggingface_hub.HfApi()
    token = token or api.token or huggingface_hub.get_token()
    if not token:
        raise HubUploadError(
            "No HuggingFace token: run `hf auth login` or set HF_TOKEN to a token with "
            f"write access, then push '{folder}' to '{repo_id}' again"
        )
    try:
        api.create_repo(repo_id, token=token, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            token=token,
            commit_message="Upload speechbrain-ssdctx model",
        )
    except HfHubHTTPError as error:
        message = f"The HuggingFace Hub refused the upload to '{repo_id}': {error}"
        raise HubUploadError(message) from error
    # The HTTP client raises its own transport errors (requests, httpx...) when there is
    # no network, and huggingface_hub raises OfflineModeIsEnabled under HF_HUB_OFFLINE.
    except Exception as error:
        raise HubUploadError(
            f"Cannot reach the HuggingFace Hub to upload '{folder}' to '{repo_id}' "
            f"(no network or HF_HUB_OFFLINE=1?): {error}"
        ) from error
    return str(commit.commit_url)


def _read_required(path: pathlib.Path) -> str:
    """Text of a file the export needs."""
    if not path.is_file():
        raise ExportError(f"Training output file '{path}' is missing")
    return path.read_text(encoding="utf-8")


def _read_calibration(path: pathlib.Path) -> Calibration | None:
    """The run's calibration, or None if it has none."""
    if not path.is_file():
        return None
    try:
        return Calibration.load(path)
    except ValueError as error:
        raise ExportError(str(error)) from error


def _read_optional(path: pathlib.Path) -> str:
    """Text of a file, or ``""`` if it is absent."""
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _load_inference_hparams(run: TrainingRun) -> dict:
    """Loads ``inference.yaml`` and checks it leaves the export's keys free."""
    path = run.folder / "inference.yaml"
    try:
        hparams = load_hyperpyyaml(run.inference_yaml)
    except Exception as error:  # HyperPyYAML raises many types (YAML, import, call)
        raise ExportError(f"Cannot load '{path}': {error}") from error
    for key in ("detector", "sample_rate", "window_policy", "window_samples"):
        if key not in hparams:
            raise ExportError(f"'{path}' has no '{key}'")
    clash = [key for key in ADDED_KEYS if key in hparams]
    if clash:
        raise ExportError(f"'{path}' already defines {clash}, which export writes")
    return hparams


def _recipe_path(hyperparams: str) -> pathlib.Path | None:
    """The recipe path from the header SpeechBrain writes (see ``SPEECHBRAIN_HEADER``)."""
    lines = hyperparams.splitlines()[: len(SPEECHBRAIN_HEADER)]
    if len(lines) < 3 or not all(map(str.startswith, lines, SPEECHBRAIN_HEADER)):
        return None
    return pathlib.Path(lines[1][2:].strip())


MODEL_CARD = """---
library_name: speechbrain
license: {license}
pipeline_tag: audio-classification
tags:
- speechbrain
- speechbrain-ssdctx
- anti-spoofing
- synthetic-speech-detection
- asvspoof
---

# {name}

A synthetic speech detector (anti-spoofing): it tells bona fide (genuine human) speech
from speech made by text-to-speech or voice conversion. Detector: `{detector}`
({n_params} parameters), trained with
speechbrain-ssdctx (inter-frequency and inter-instance context training for synthetic
speech detection, a SpeechBrain plugin).

## Use

```python
from speechbrain_ssdctx.inference import SpoofDetector

detector = SpoofDetector.from_hparams(source="{name}", savedir="pretrained/{name}")
detector.classify_file("my_audio.wav")  # score, probability of bona fide, decision
```

or from a shell: `ssdctx-score --model {name} my_audio_folder/ --out scores.txt`.

Input: audio at any sample rate (resampled to {sample_rate} Hz), stereo is mixed down.
Window policy: {window}.

## What the score means

The score is {score_meaning}: higher means more likely genuine speech. The
decision threshold stored with the model is **{threshold}**: the equal error rate (EER)
threshold on the development set (dev EER {dev_eer}%; the exported checkpoint is the one
with the lowest dev EER, {ckpt_eer}%). A score at or above it is classified bona fide.
Scores on audio unlike the training data (other languages, codecs, channels) shift:
calibrate a threshold on your own data before trusting decisions.
{calibration}
## Training

- Data: {training_data}.
- Recipe: `{recipe}` (the full hyperparameters as run are in
  `training_hyperparams.yaml`).
- Changes to the recipe (overrides):

{overrides}

## Results

{results}

## Intended use and limitations

Research on spoofing countermeasures and screening of audio for synthetic speech. It
does not identify speakers and is not proof that audio is genuine: detectors trained on
ASVspoof miss unseen generators and are sensitive to codecs, noise and channels. Do not
use a single score as the basis of decisions that affect people.

## Security: HyperPyYAML runs code

`hyperparams.yaml` is HyperPyYAML: loading it imports and calls the Python objects it
names (`!new:`, `!name:`). Load hub models only from sources you trust. The weights in
`detector.ckpt` are read with `torch.load(weights_only=True)`, which never unpickles
arbitrary objects.

## Licence

Weights: {license}. The training data keeps its own licence (ASVspoof 2019: ODC-By 1.0;
cite Wang et al., 2020, "ASVspoof 2019: a large-scale public database of synthesized,
converted and replayed speech").
"""
