"""Detections already made, kept by what they were made from, so that an unchanged image is not shown
to the detector again: after an edit elsewhere in handsign reruns the landmarks stage (every reading
of the real Sign MNIST is half an hour on 2 cores), or when a dataset grows.

A chunk of images is kept under the sha256 of everything its hands depend on: each image's pixels,
the detector's settings (attempts, threshold, every reading or the first), the hand landmarker's
sha256, MediaPipe's version and the detection code itself (handsign/hands/landmarks.py), so that
changing any of them detects again. The folder is `$HANDSIGN_DETECTION_CACHE`, else
`$XDG_CACHE_HOME/handsign/detections` (~/.cache/...); `HANDSIGN_DETECTION_CACHE=off` keeps nothing
(the tests run so: a test that changes the detector must see it run). Delete the folder to empty it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
from pathlib import Path

import numpy as np

CACHE_ENV = "HANDSIGN_DETECTION_CACHE"


def folder() -> Path | None:
    """Where detections are kept; None when the cache is off."""
    value = os.environ.get(CACHE_ENV, "")
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "handsign" / "detections"


def key(frames: list[np.ndarray], settings: str, model_digest: str, code: bytes) -> str:
    """The sha256 naming a chunk's detections: its frames, the settings (their repr), the model's and
    the code's digests, and MediaPipe's version."""
    h = hashlib.sha256()
    for part in (settings, model_digest, _mediapipe_version()):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(code).digest())
    for frame in frames:
        frame = np.ascontiguousarray(frame)
        h.update(f"{frame.dtype}{frame.shape}".encode())
        h.update(frame.tobytes())
    return h.hexdigest()


def load(where: Path, name: str) -> dict[str, np.ndarray] | None:
    """The arrays kept under `name`, or None (never kept, or unreadable: detected again)."""
    path = where / name[:2] / f"{name}.npz"
    try:
        with np.load(path, allow_pickle=False) as kept:
            return {k: kept[k] for k in kept.files}
    except (OSError, ValueError, EOFError):
        return None


def save(where: Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep `arrays` under `name`, written whole or not at all (two workers may write the same chunk)."""
    path = where / name[:2] / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)  # atomic: a reader sees the old file, the new one, or none
    finally:
        tmp.unlink(missing_ok=True)


def _mediapipe_version() -> str:
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return "none"
