"""Sharing exported detectors on the HuggingFace Hub.

:func:`push_to_hub` uploads a model folder written by ``speechbrain_ssdctx.inference.export``
(:func:`~speechbrain_ssdctx.inference.export.export_model`, ``export_from_hparams``,
``export_detector``), with its model card (``speechbrain_ssdctx.inference.model_card``). The export
and model card API is importable from here too (``from speechbrain_ssdctx.inference.hub import
export_model``), as ``ssdctx-export`` and users' scripts know it.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os

from speechbrain_ssdctx.inference.export import (
    INFERENCE_KEYS,
    DetectorDefinition,
    ExportError,
    detector_definition,
    export_detector,
    export_from_hparams,
    export_model,
    redact_local_paths,
)
from speechbrain_ssdctx.inference.model_card import MODEL_CARD, ModelCard, model_card
from speechbrain_ssdctx.inference.model_folder import INTERFACE_CLASS, INTERFACE_FILE
from speechbrain_ssdctx.inference.settings import InferenceSettings

__all__ = [
    "INFERENCE_KEYS",
    "INTERFACE_CLASS",
    "INTERFACE_FILE",
    "MODEL_CARD",
    "DetectorDefinition",
    "ExportError",
    "HubUploadError",
    "InferenceSettings",
    "ModelCard",
    "detector_definition",
    "export_detector",
    "export_from_hparams",
    "export_model",
    "model_card",
    "push_to_hub",
    "redact_local_paths",
]


class HubUploadError(RuntimeError):
    """Uploading to the HuggingFace Hub failed (no token, no network, refused)."""


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
        A folder written by :func:`export_model` (or the other exports).
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
