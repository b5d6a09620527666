"""What every dataset format produces: uint8 images, labels, class names and one row per sample."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from handsign.atomic import atomic_path

SAMPLE_COLUMNS = ["sample_id", "source", "label", "class_name", "group", "official_split"]


class DatasetFormatError(ValueError):
    """Raw data that does not match the Kaggle layout; the message names the file (and row)."""


@dataclass
class Prepared:
    images: np.ndarray  # uint8, N x 1 x H x W
    labels: np.ndarray  # int64, N, indices into class_names
    class_names: list[str]
    sources: list[str]  # where each sample came from: `file` or `file:row`
    groups: list[str]  # the subject (LeapGestRecog) or "" where the dataset has none
    official_splits: list[str]  # "train" / "test" where the download says so, else ""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be uint8 N x 1 x H x W, got {self.images.dtype} {self.images.shape}")
        if not (len(self.labels) == len(self.sources) == len(self.groups) == len(self.official_splits) == n):
            raise ValueError("images, labels, sources, groups and official_splits differ in length")

    def samples(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sample_id": np.arange(len(self.labels)),
                "source": self.sources,
                "label": self.labels,
                "class_name": [self.class_names[i] for i in self.labels],
                "group": self.groups,
                "official_split": self.official_splits,
            },
            columns=SAMPLE_COLUMNS,
        )

    def save(self, out_dir: str | Path, dataset: str) -> None:
        """Write images.npy, samples.csv and meta.json into `out_dir`, all or nothing."""
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            np.save(tmp / "images.npy", self.images)
            self.samples().to_csv(tmp / "samples.csv", index=False)
            meta = {
                "dataset": dataset,
                "class_names": self.class_names,
                "num_samples": int(len(self.labels)),
                "image_shape": list(self.images.shape[1:]),
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


@dataclass
class PreparedStore:
    """A prepared dataset read back from disk; images stay memory-mapped."""

    images: np.ndarray
    samples: pd.DataFrame
    class_names: list[str]

    @classmethod
    def load(cls, folder: str | Path) -> PreparedStore:
        folder = Path(folder)
        for name in ("images.npy", "samples.csv", "meta.json"):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name} is missing: run the prepare stage first")
        meta = json.loads((folder / "meta.json").read_text())
        samples = pd.read_csv(folder / "samples.csv", keep_default_na=False)
        images = np.load(folder / "images.npy", mmap_mode="r")
        return cls(images=images, samples=samples, class_names=meta["class_names"])


def find_files(root: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` anywhere below `root`, shallowest first, then by path."""
    return sorted(root.rglob(pattern), key=lambda p: (len(p.relative_to(root).parts), str(p)))


def read_grey_image(path: Path, expected_size: tuple[int, int] | None = None) -> Image.Image:
    """Open an 8-bit greyscale image, failing with the file's name when it is corrupt or off-format."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("L", "P", "RGB", "RGBA", "I;16", "I"):
                raise DatasetFormatError(f"{path}: unsupported pixel mode {img.mode}")
            grey = img.convert("L")
    except DatasetFormatError:
        raise
    except Exception as e:  # PIL raises many types for a damaged file
        raise DatasetFormatError(f"{path}: cannot read image ({e})") from None
    if expected_size is not None and grey.size != expected_size:
        raise DatasetFormatError(
            f"{path}: image is {grey.size[0]}x{grey.size[1]}, expected {expected_size[0]}x{expected_size[1]}"
        )
    return grey


def read_image_files(paths: list[Path], expected_size: tuple[int, int], image_size: int, desc: str) -> np.ndarray:
    """Decode greyscale image files of one known size into uint8 N x 1 x image_size x image_size."""
    images = np.empty((len(paths), 1, image_size, image_size), dtype=np.uint8)
    for i, path in enumerate(tqdm(paths, desc=desc, unit="img", disable=None)):
        images[i, 0] = to_square_array(read_grey_image(path, expected_size), image_size)
    return images


def to_square_array(img: Image.Image, size: int) -> np.ndarray:
    """Resize (without keeping the aspect ratio, as the published pipelines do) to size x size uint8."""
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)
