"""Fingers (Kaggle `koryakinp/fingers`): 128x128 PNGs named `<uuid4>_<count><hand>.png`."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np

from handsign.datasets.base import DatasetFormatError, Prepared, find_files, read_image_files
from handsign.datasets.spec import DatasetSpec

KAGGLE_HANDLE = "koryakinp/fingers"
IMAGE_SIZE = (128, 128)
# The seed's task is the finger count; the hand (L/R) is kept in the group column for analysis.
CLASS_NAMES = [str(i) for i in range(6)]
_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_([0-5])([LR])\.png$")


def locate(raw_dir: Path) -> list[tuple[Path, str, int, str]]:
    """(path, official split, count, hand) per image; a second copy of train/ and test/ counts once."""
    seen: dict[tuple[str, str], tuple[Path, str, int, str]] = {}
    for path in find_files(raw_dir, "*.png"):
        split = path.parent.name
        if split not in ("train", "test"):
            continue
        m = _NAME.match(path.name)
        if not m:
            raise DatasetFormatError(f"{path}: name is not <uuid4>_<count 0-5><hand L|R>.png")
        seen.setdefault((split, path.name), (path, split, int(m.group(1)), m.group(2)))
    if not seen:
        raise DatasetFormatError(f"{raw_dir}: no train/ or test/ folders of <uuid>_<count><hand>.png inside")
    return [seen[k] for k in sorted(seen)]


def read(raw_dir: Path, image_size: int = 128, resize: str = "stretch") -> Prepared:
    files = locate(raw_dir)
    decoded = read_image_files([p for p, *_ in files], IMAGE_SIZE, image_size, "Fingers images", resize)
    return Prepared(
        images=decoded.images,
        labels=np.array([count for _, _, count, _ in files], dtype=np.int64),
        class_names=list(CLASS_NAMES),
        sources=[p.relative_to(raw_dir).as_posix() for p, *_ in files],
        groups=[hand for *_, hand in files],
        official_splits=[split for _, split, _, _ in files],
        identical_neighbours=decoded.identical_neighbours,
    )


def collected_path(out: Path, label: str, split: str = "train", subject: str = "") -> Path:
    """Where `handsign collect` saves the next camera image of `label` (a count and a hand, `3L`)."""
    name = f"{uuid.uuid4()}_{label}.png"
    if not _NAME.match(name):
        raise ValueError(f"--label {label!r}: Fingers labels are a count and a hand, 0L..5L or 0R..5R")
    if split not in ("train", "test"):
        raise ValueError(f"--split {split!r}: Fingers has train and test folders")
    return out / "fingers" / split / name


SPEC = DatasetSpec(
    name="fingers",
    read=read,
    locate=locate,
    kaggle_handle=KAGGLE_HANDLE,
    class_names=tuple(CLASS_NAMES),
    group="hand",
    native_size=IMAGE_SIZE,
    preview=(128, (96, 96)),
    collect_path=collected_path,
)
