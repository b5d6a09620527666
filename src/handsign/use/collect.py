"""`handsign collect`: training images from a camera's region of interest, written in a dataset's
own layout and naming, so that `source: local` reads them as they are."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from handsign.core.atomic import atomic_path
from handsign.datasets.spec import DatasetSpec
from handsign.use.capture import Roi, Window, frames, grey, open_source
from handsign.use.drawing import annotate


def collecting(dataset: str) -> DatasetSpec:
    """The spec of a dataset that `collect` can write camera images of."""
    from handsign.datasets import DATASETS

    able = [name for name, spec in DATASETS.items() if spec.collect_path]
    if dataset not in able:
        raise ValueError(f"--dataset {dataset!r}: collect writes image-file datasets: {', '.join(able)}")
    return DATASETS[dataset]

def collected_path(out: Path, dataset: str, label: str, split: str = "train", subject: str = "00") -> Path:
    """Where the next image of `label` goes, in the dataset's Kaggle layout and naming."""
    return collecting(dataset).collect_path(out, label, split, subject)

def collect(
    source: str,
    dataset: str,
    label: str,
    out: Path,
    split: str = "train",
    subject: str = "00",
    roi_text: str = "",
    headless: bool = False,
    every: int = 10,
    max_frames: int | None = None,
) -> list[Path]:
    """Save the region of interest as a training image of `label` when `c` is pressed (or every
    `every` frames when headless), in the dataset's layout, so `source: local` reads them as is."""
    spec = collecting(dataset)
    collected_path(out, dataset, label, split, subject)  # a bad label fails before the camera opens
    capture = open_source(source)
    window = Window(f"handsign collect {label} (c: capture, q: quit)", headless)
    aspect = spec.aspect  # the region of interest has the shape of the dataset's images
    saved: list[Path] = []
    roi = None
    try:
        for n, frame in enumerate(frames(capture, max_frames, source), 1):
            if roi is None:
                h, w = frame.shape[:2]
                roi = Roi.parse(roi_text, aspect) if roi_text else Roi.centred(w, h, aspect=aspect)
            key = window.show(annotate(frame, f"{label}: {len(saved)} saved", None, roi))
            if key == "q":
                break
            if key == "c" or (headless and n % every == 0):
                path = collected_path(out, dataset, label, split, subject)
                path.parent.mkdir(parents=True, exist_ok=True)
                image = Image.fromarray(grey(roi.crop(frame))).resize(spec.native_size, Image.BILINEAR)
                with atomic_path(path) as tmp:
                    image.save(tmp, format="PNG")
                saved.append(path)
    finally:
        capture.release()
        window.close()
    return saved
