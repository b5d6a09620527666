"""Sign Language MNIST (Kaggle `datamunge/sign-language-mnist`): two CSVs of 28x28 greyscale rows."""

from __future__ import annotations

import csv
import string
from pathlib import Path

import numpy as np

from handsign.datasets.base import DatasetFormatError, Prepared, find_files, to_square_array
from handsign.datasets.spec import DatasetSpec

KAGGLE_HANDLE = "datamunge/sign-language-mnist"
FILES = {"train": "sign_mnist_train.csv", "test": "sign_mnist_test.csv"}
SIDE = 28
HEADER = ["label"] + [f"pixel{i}" for i in range(1, SIDE * SIDE + 1)]
# Label = letter index (A = 0); J (9) and Z (25) need motion and never occur.
LETTER_LABELS = [i for i in range(26) if i not in (9, 25)]
CLASS_NAMES = [string.ascii_uppercase[i] for i in LETTER_LABELS]
_CLASS_OF_LABEL = {label: k for k, label in enumerate(LETTER_LABELS)}


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one Sign MNIST CSV into (uint8 N x 28 x 28 images, letter-index labels).

    Every row is checked; the first bad one stops the parse with the file and row (1-based data
    row, the header being row 0) in the message.
    """
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetFormatError(f"{path}: empty file, expected the header label,pixel1,...,pixel784")
        if [h.strip() for h in header] != HEADER:
            raise DatasetFormatError(
                f"{path}: header is not label,pixel1,...,pixel784 (got {len(header)} columns starting {header[:3]})"
            )
        rows: list[list[int]] = []
        for row_no, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) != len(HEADER):
                raise DatasetFormatError(
                    f"{path}: row {row_no} has {len(row)} columns, expected {len(HEADER)} (truncated or malformed)"
                )
            try:
                values = [int(v) for v in row]
            except ValueError:
                bad = next(v for v in row if not _is_int(v))
                raise DatasetFormatError(f"{path}: row {row_no} has a non-integer value {bad!r}") from None
            rows.append(values)
    if not rows:
        raise DatasetFormatError(f"{path}: no data rows")
    data = np.asarray(rows, dtype=np.int64)
    labels, pixels = data[:, 0], data[:, 1:]
    out_of_range = np.flatnonzero((pixels < 0).any(axis=1) | (pixels > 255).any(axis=1))
    if out_of_range.size:
        r = int(out_of_range[0])
        raise DatasetFormatError(
            f"{path}: row {r + 1} has a pixel outside 0..255 ({int(pixels[r][(pixels[r] < 0) | (pixels[r] > 255)][0])})"
        )
    unknown = np.flatnonzero(~np.isin(labels, LETTER_LABELS))
    if unknown.size:
        r = int(unknown[0])
        raise DatasetFormatError(f"{path}: row {r + 1} has unknown label {int(labels[r])} (expected 0..24 without 9)")
    return pixels.astype(np.uint8).reshape(-1, SIDE, SIDE), labels


def _is_int(v: str) -> bool:
    try:
        int(v)
    except ValueError:
        return False
    return True


def locate(raw_dir: Path) -> dict[str, Path]:
    """The train and test CSVs, found by name anywhere in the download (shallowest copy wins)."""
    found = {}
    for split, name in FILES.items():
        matches = find_files(raw_dir, name)
        if not matches:
            raise DatasetFormatError(f"{raw_dir}: no {name} anywhere inside; is this the Sign Language MNIST archive?")
        found[split] = matches[0]
    return found


def read(raw_dir: Path, image_size: int = SIDE, resize: str = "stretch") -> Prepared:
    """`resize` is accepted for a uniform interface; the letters are square, so every mode agrees."""
    images, labels, sources, splits = [], [], [], []
    for split, path in locate(raw_dir).items():
        imgs, letters = read_csv(path)
        if image_size != SIDE:
            imgs = np.stack([to_square_array(i, image_size, resize) for i in imgs])
        images.append(imgs)
        labels.append(np.array([_CLASS_OF_LABEL[int(x)] for x in letters], dtype=np.int64))
        rel = path.relative_to(raw_dir).as_posix()
        sources += [f"{rel}:{r}" for r in range(1, len(imgs) + 1)]
        splits += [split] * len(imgs)
    n = len(sources)
    return Prepared(
        images=np.concatenate(images)[:, None],
        labels=np.concatenate(labels),
        class_names=list(CLASS_NAMES),
        sources=sources,
        groups=[""] * n,
        official_splits=splits,
    )


SPEC = DatasetSpec(
    name="sign_mnist",
    read=read,
    locate=locate,
    kaggle_handle=KAGGLE_HANDLE,
    class_names=tuple(CLASS_NAMES),
    native_size=(SIDE, SIDE),
    preview=(SIDE, (56, 56)),
)
