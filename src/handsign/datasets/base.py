"""What every dataset format produces: uint8 images, labels, class names and one row per sample."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from handsign.core.atomic import atomic_path
from handsign.core.imagefile import read_grey
from handsign.datasets.png import decode_grey_png

if TYPE_CHECKING:
    from handsign.core.schema import LandmarkParams

RESIZE_MODES = ("stretch", "letterbox", "center_crop")  # how an image becomes a square (data.<copy>.resize)

SAMPLE_COLUMNS = ["sample_id", "source", "label", "class_name", "group", "official_split"]


class DatasetFormatError(ValueError):
    """Raw data that does not match the Kaggle layout; the message names the file (and row).
    An unreadable image file raises `handsign.core.imagefile.UnreadableImage`, also a ValueError."""


@dataclass
class Prepared:
    images: np.ndarray  # uint8, N x 1 x H x W
    labels: np.ndarray  # int64, N, indices into class_names
    class_names: list[str]
    sources: list[str]  # where each sample came from: `file` or `file:row`
    groups: list[str]  # the subject (LeapGestRecog) or "" where the dataset has none
    official_splits: list[str]  # "train" / "test" where the download says so, else ""
    identical_neighbours: int = 0  # image files byte-identical to the one before them (counted, kept)

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

    def save(self, out_dir: str | Path, dataset: str, resize: str = "stretch") -> None:
        """Write images.npy, samples.csv and meta.json into `out_dir`, all or nothing; `resize`
        (how frames were made square) is recorded so that a model can do the same to new images."""
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            np.save(tmp / "images.npy", self.images)
            self.samples().to_csv(tmp / "samples.csv", index=False)
            meta = {
                "dataset": dataset,
                "class_names": self.class_names,
                "num_samples": int(len(self.labels)),
                "image_shape": list(self.images.shape[1:]),
                "resize": resize,
                "identical_neighbour_files": self.identical_neighbours,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


@dataclass
class PreparedStore:
    """A prepared dataset read back from disk; images stay memory-mapped."""

    images: np.ndarray
    samples: pd.DataFrame
    class_names: list[str]
    resize: str = "stretch"  # how the frames were made square (data.<copy>.resize); "landmarks" for landmark rows
    landmarks: LandmarkParams | None = None  # landmark rows: how their hands were found (handsign.data.splitdata)

    @classmethod
    def load(cls, folder: str | Path) -> PreparedStore:
        folder = Path(folder)
        for name in ("images.npy", "samples.csv", "meta.json"):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name} is missing: run the prepare stage first")
        meta = json.loads((folder / "meta.json").read_text())
        # Subjects are names ("00", "01"), not numbers: read as written.
        samples = pd.read_csv(folder / "samples.csv", keep_default_na=False, dtype={"group": str, "official_split": str})
        images = np.load(folder / "images.npy", mmap_mode="r")
        return cls(images=images, samples=samples, class_names=meta["class_names"], resize=meta.get("resize", "stretch"))


def find_files(root: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` anywhere below `root`, shallowest first, then by path."""
    return sorted(root.rglob(pattern), key=lambda p: (len(p.relative_to(root).parts), str(p)))


def check_size(path: Path, size: tuple[int, int], expected: tuple[int, int]) -> None:
    """`size` and `expected` are (width, height), as Pillow gives them."""
    if size != expected:
        raise DatasetFormatError(f"{path}: image is {size[0]}x{size[1]}, expected {expected[0]}x{expected[1]}")


@dataclass
class ImageFiles:
    images: np.ndarray  # uint8 N x 1 x size x size, backed by an anonymous temporary file
    identical_neighbours: int  # files byte-identical to the one before them in the same folder


def read_image_files(paths: list[Path], expected_size: tuple[int, int] | None, image_size: int, desc: str,
                     resize: str = "stretch", workers: int | None = None) -> ImageFiles:  # fmt: skip
    """Decode image files (of one known (width, height), unless `expected_size` is None) into
    greyscale uint8 N x 1 x image_size x image_size.

    One worker per core decodes into a memory map, so 20,000 frames at 224x224 cost 1 GB of disk
    cache, not of process memory.
    """
    with tempfile.TemporaryFile() as scratch:  # the map outlives the file object (and the deleted file)
        images = np.memmap(scratch, dtype=np.uint8, mode="w+", shape=(len(paths), 1, image_size, image_size))
    job = _Decoding(paths, expected_size, image_size, resize, images)
    import torch  # here, not at the top: reading a prepared copy (split, download checks) needs no torch

    torch_threads = torch.get_num_threads()
    try:
        with _workers(workers or os.cpu_count() or 1, job) as pool:
            decoded = pool.map(_decode, range(len(paths)), chunksize=64)
            lengths = list(tqdm(decoded, total=len(paths), desc=desc, unit="img", disable=None))
    finally:
        torch.set_num_threads(torch_threads)  # worker threads set it for the whole process
    # Byte-identical files have equal lengths: only those neighbours are read again and compared.
    identical = sum(
        1
        for i in range(1, len(paths))
        if lengths[i] == lengths[i - 1] and paths[i].parent == paths[i - 1].parent
        and paths[i].read_bytes() == paths[i - 1].read_bytes()
    )  # fmt: skip
    return ImageFiles(images, identical)


@dataclass
class _Decoding:
    """One `read_image_files` call, as its workers see it."""

    paths: list[Path]
    expected_size: tuple[int, int] | None
    image_size: int
    resize: str
    images: np.ndarray  # the memory map every worker writes into

    def decode(self, i: int) -> int:
        """Decode file `i` into its row of `images`; its length in bytes."""
        path = self.paths[i]
        data = path.read_bytes()
        pixels = decode_grey_png(data)
        if pixels is None:
            pixels = read_grey(data, str(path))
        if self.expected_size is not None:
            check_size(path, (pixels.shape[1], pixels.shape[0]), self.expected_size)
        self.images[i, 0] = to_square_array(pixels, self.image_size, self.resize)
        return len(data)


_job: _Decoding | None = None  # in a decoding worker: the call it works for


def _start_worker(job: _Decoding) -> None:
    global _job
    _job = job
    import torch

    torch.set_num_threads(1)  # there is a worker per core already; torch's own threads would compete


def _decode(i: int) -> int:
    assert _job is not None, "a decoding worker starts with _start_worker"
    return _job.decode(i)


def _workers(n: int, job: _Decoding) -> Executor:
    """Forked processes on Linux: they start at once, write into the same (shared) memory map, and
    no lock serialises their Python. Threads elsewhere: macOS's system libraries are not safe to
    fork, and Windows cannot."""
    if sys.platform == "linux":
        return ProcessPoolExecutor(n, multiprocessing.get_context("fork"), _start_worker, (job,))
    return ThreadPoolExecutor(n, initializer=_start_worker, initargs=(job,))


def resize_pixels(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 H x W pixels resampled to height x width by Pillow's antialiased bilinear filter, as
    torch's uint8 kernel computes it (0.33 ms for a 640x240 frame here, Pillow 0.43 ms): the same
    pixels when enlarging or reducing by a whole factor, otherwise one grey level apart on about
    0.2% of them."""
    if pixels.shape == (height, width):
        return pixels
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(pixels if pixels.flags.writeable else pixels.copy())[None, None]
    return F.interpolate(x, size=(height, width), mode="bilinear", antialias=True)[0, 0].numpy()


def to_square_array(img: np.ndarray, size: int, resize: str = "stretch") -> np.ndarray:
    """A size x size uint8 array from uint8 H x W greyscale pixels: `stretch` ignores
    the aspect ratio (as the published pipelines did), `letterbox` fits the whole frame and pads
    with black, `center_crop` fills the square and cuts the longer side's ends."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize {resize!r} is not one of {', '.join(RESIZE_MODES)}")
    pixels = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = pixels.shape
    if resize == "stretch" or w == h:
        return resize_pixels(pixels, size, size)
    scale = size / (max(w, h) if resize == "letterbox" else min(w, h))
    scaled = resize_pixels(pixels, max(1, round(h * scale)), max(1, round(w * scale)))
    sh, sw = scaled.shape
    top, left = abs(size - sh) // 2, abs(size - sw) // 2
    if resize == "letterbox":
        canvas = np.zeros((size, size), np.uint8)
        canvas[top : top + sh, left : left + sw] = scaled
        return canvas
    return np.ascontiguousarray(scaled[top : top + size, left : left + size])
