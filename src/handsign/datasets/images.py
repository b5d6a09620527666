"""A folder of your own images (`dataset: images`, `source: local`): flat, unlabelled, or one
folder per class as torchvision's `ImageFolder` reads it. Any size, greyscale or colour; each
image is made greyscale and square as `data.<copy>.resize` says. No official test set: split it
`random`. Flat folders hold one class, `unlabelled`: enough for an autoencoder, which never reads
labels; clustering and probe scores then need class folders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handsign.datasets.base import DatasetFormatError, Prepared, find_files, read_image_files
from handsign.datasets.spec import DatasetSpec

UNLABELLED = "unlabelled"
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _images_in(folder: Path) -> list[Path]:
    return [p for p in find_files(folder, "*") if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")]


def locate(raw_dir: Path) -> list[tuple[Path, str]]:
    """(path, class name) per image. A folder holding only one folder (an unpacked archive's
    top level) is looked into; then loose images mean a flat folder, subfolders mean classes."""
    root = raw_dir
    while True:
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        else:
            break
    loose = [p for p in entries if p.is_file() and p.suffix.lower() in SUFFIXES]
    classes = {d.name: _images_in(d) for d in sorted(p for p in entries if p.is_dir())}
    classes = {name: files for name, files in classes.items() if files}
    if loose and classes:
        raise DatasetFormatError(
            f"{root}: holds both loose images ({loose[0].name}, ...) and class folders ({', '.join(classes)}); "
            "use one layout: all images in one folder, or one folder per class"
        )
    if loose:
        return [(p, UNLABELLED) for p in sorted(loose)]
    if not classes:
        raise DatasetFormatError(f"{raw_dir}: no images ({', '.join(SUFFIXES)}) inside")
    return [(p, name) for name, files in classes.items() for p in files]


def read(raw_dir: Path, image_size: int = 64, resize: str = "stretch") -> Prepared:
    files = locate(raw_dir)
    class_names = sorted({name for _, name in files})
    decoded = read_image_files([p for p, _ in files], None, image_size, "images", resize)
    return Prepared(
        images=decoded.images,
        labels=np.array([class_names.index(name) for _, name in files], dtype=np.int64),
        class_names=class_names,
        sources=[p.relative_to(raw_dir).as_posix() for p, _ in files],
        groups=[""] * len(files),
        official_splits=[""] * len(files),
        identical_neighbours=decoded.identical_neighbours,
    )


# Nothing to download or render (the folder is yours); the class folders' names are the classes.
SPEC = DatasetSpec(name="images", read=read, locate=locate)
