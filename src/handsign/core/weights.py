"""Where pretrained files are looked for, written once, and the pinned files handsign downloads.

The search path: the folders in `$HANDSIGN_WEIGHTS` (several separated by `os.pathsep`), then
`../shared/weights/` beside the repository, then handsign's cache (`~/.cache/handsign/`, where
downloads go). torchvision's ImageNet checkpoints are looked for in torch's hub cache first
(`handsign.models.weights`).

A pinned file is a versioned URL and its sha256, as torchvision pins its weights: a download or a
found file with another hash is refused, naming both hashes, so that a different file can never
change results unnoticed. torch-free, so a pre-flight check costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from handsign.core.atomic import atomic_path
from handsign.core.layout import repo_root


@dataclass(frozen=True)
class Pinned:
    name: str  # the file name, as searched for
    url: str  # a versioned URL, never a "latest" one
    sha256: str
    what: str  # for messages

    @property
    def host(self) -> tuple[str, int]:
        """(host, port) of the URL: what `handsign check` asks before it says a download will work."""
        netloc = self.url.split("/")[2]
        return (netloc, 443 if self.url.startswith("https") else 80)


# MediaPipe's hand landmarker (palm detector + 21-point hand model, the "full" variants), version 1.
# The hash is the one of the bundle this project's results were made with (../shared/weights/README.md).
HAND_LANDMARKER = Pinned(
    name="hand_landmarker.task",
    url="https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/1/hand_landmarker.task",
    sha256="c529df422b335760687cd68a8ad89959b473426e1ef719d4e38b95731431406c",
    what="MediaPipe's hand landmarker",
)


def cache_dir() -> Path:
    """Where handsign downloads pinned files: `$XDG_CACHE_HOME/handsign` (default `~/.cache/handsign`)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "handsign"


def search_dirs(root: Path | None = None) -> list[Path]:
    """`$HANDSIGN_WEIGHTS` (a list of folders, `os.pathsep`), `../shared/weights/` beside the
    repository, handsign's cache: in that order."""
    named = [Path(p).expanduser() for p in os.environ.get("HANDSIGN_WEIGHTS", "").split(os.pathsep) if p]
    return [*named, (root or repo_root()).parent / "shared" / "weights", cache_dir()]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, pinned: Pinned) -> Path:
    """`path` if its sha256 is the pinned one; else a ValueError naming both hashes."""
    actual = sha256_of(path)
    if actual != pinned.sha256:
        raise ValueError(
            f"{path} is not the pinned {pinned.what}: its sha256 is {actual}, the pin is {pinned.sha256} "
            f"({pinned.url}). Replace the file, or remove it to download the pinned one"
        )
    return path


def find(pinned: Pinned, root: Path | None = None, fetch: bool = False) -> Path:
    """The pinned file, verified: the first one on the search path, else (with `fetch`) downloaded
    into the cache. A FileNotFoundError says where to put it; a file with another hash is refused."""
    places = [folder / pinned.name for folder in search_dirs(root)]
    for place in places:
        if place.is_file():
            return verified(place, pinned)
    where = (f"{pinned.name} ({pinned.what}) is not in {', '.join(str(p.parent) for p in places)}: put it in one of them, "
             f"set HANDSIGN_WEIGHTS to its folder, or download it (sha256 {pinned.sha256}) from {pinned.url}")  # fmt: skip
    if fetch:
        try:
            return download(pinned)
        except RuntimeError as e:
            raise FileNotFoundError(f"{where}; downloading it failed: {e}") from None
    raise FileNotFoundError(where)


def download(pinned: Pinned, url: str | None = None, dest: Path | None = None, timeout: float = 20) -> Path:
    """Download the pinned file into the cache, atomically, and only if its hash is the pin's. A
    clear RuntimeError without a network; a ValueError naming both hashes for another file."""
    url = url or pinned.url
    dest = dest or cache_dir() / pinned.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                tmp.write_bytes(answer.read())
        except OSError as e:
            raise RuntimeError(f"cannot download {url} ({e}); copy {pinned.name} into {dest.parent} instead") from None
        actual = sha256_of(tmp)
        if actual != pinned.sha256:
            raise ValueError(
                f"{url} sent a file whose sha256 is {actual}, not the pinned {pinned.sha256}: refused, nothing written"
            )
    return dest
