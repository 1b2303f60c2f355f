"""Helpers for loading exported models by Hub id, offline: a HuggingFace cache holding a
model repository laid out as huggingface_hub stores downloads (snapshot files are
symbolic links to content-addressed blobs)."""

import hashlib
import pathlib

import huggingface_hub.constants

REVISION = "0123456789abcdef0123456789abcdef01234567"


def fake_hub(monkeypatch, folder: pathlib.Path, repo_id: str, cache: pathlib.Path) -> None:
    """Puts ``folder``'s files in a cache as the Hub repository ``repo_id``; offline mode."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        up = pathlib.Path(*[".."] * (len(path.relative_to(folder).parts) + 1))
        link.symlink_to(up / "blobs" / blob.name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
