"""LeapGestRecog (Kaggle `gti-upm/leapgestrecog`): 640x240 near-infrared PNGs, subject/gesture tree."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from handsign.datasets.base import DatasetFormatError, Prepared, find_files, read_image_files
from handsign.datasets.spec import DatasetSpec

KAGGLE_HANDLE = "gti-upm/leapgestrecog"
GESTURES = ["01_palm", "02_l", "03_fist", "04_fist_moved", "05_thumb", "06_index", "07_ok", "08_palm_moved", "09_c", "10_down"]
CLASS_NAMES = [g.split("_", 1)[1] for g in GESTURES]
FRAME_SIZE = (640, 240)
_NAME = re.compile(r"^frame_(\d{2})_(\d{2})_(\d{4})\.png$")


def frame_path(subject: int, gesture: int, frame: int) -> str:
    """`leapGestRecog/03/07_ok/frame_03_07_0142.png` for subject 3, gesture index 6, frame 142."""
    g = GESTURES[gesture]
    return f"leapGestRecog/{subject:02d}/{g}/frame_{subject:02d}_{g[:2]}_{frame:04d}.png"


def locate(raw_dir: Path) -> list[tuple[Path, str, int]]:
    """(path, subject, class index) per frame; a nested second copy of the tree is counted once."""
    seen: dict[tuple[str, str, str], tuple[Path, str, int]] = {}
    for path in find_files(raw_dir, "frame_*.png"):
        m = _NAME.match(path.name)
        if not m:
            continue
        subject, gesture_no, _ = m.groups()
        gesture_dir, subject_dir = path.parent.name, path.parent.parent.name
        if gesture_dir not in GESTURES or subject_dir != subject or gesture_dir[:2] != gesture_no:
            raise DatasetFormatError(f"{path}: file name does not match its folders <subject>/<gesture>/")
        key = (subject, gesture_dir, path.name)
        seen.setdefault(key, (path, subject, GESTURES.index(gesture_dir)))
    if not seen:
        raise DatasetFormatError(f"{raw_dir}: no leapGestRecog/<subject>/<gesture>/frame_*.png files inside")
    return [seen[k] for k in sorted(seen)]


def read(raw_dir: Path, image_size: int = 224, resize: str = "stretch") -> Prepared:
    frames = locate(raw_dir)
    decoded = read_image_files([p for p, _, _ in frames], FRAME_SIZE, image_size, "LeapGestRecog frames", resize)
    return Prepared(
        images=decoded.images,
        labels=np.array([c for _, _, c in frames], dtype=np.int64),
        class_names=list(CLASS_NAMES),
        sources=[p.relative_to(raw_dir).as_posix() for p, _, _ in frames],
        groups=[s for _, s, _ in frames],
        official_splits=[""] * len(frames),
        identical_neighbours=decoded.identical_neighbours,
    )


def collected_path(out: Path, label: str, split: str = "train", subject: str = "00") -> Path:
    """Where `handsign collect` saves the next camera frame of gesture `label` by `subject`."""
    if label not in CLASS_NAMES:
        raise ValueError(f"--label {label!r}: LeapGestRecog gestures are {', '.join(CLASS_NAMES)}")
    if not (subject.isdigit() and len(subject) == 2):
        raise ValueError(f"--subject {subject!r}: two digits, such as 00")
    gesture = CLASS_NAMES.index(label)
    folder = (out / frame_path(int(subject), gesture, 1)).parent
    taken = len(list(folder.glob("frame_*.png"))) if folder.exists() else 0
    return out / frame_path(int(subject), gesture, taken + 1)


SPEC = DatasetSpec(
    name="leapgestrecog",
    read=read,
    locate=locate,
    kaggle_handle=KAGGLE_HANDLE,
    class_names=tuple(CLASS_NAMES),
    group="subject",
    native_size=FRAME_SIZE,
    preview=(224, (256, 96)),
    collect_path=collected_path,
)
