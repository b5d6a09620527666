"""`handsign collect`: training images from a camera's region of interest, written in a dataset's
own layout and naming, so that `source: local` reads them as they are; or, for a dataset whose
download is no image files (Sign MNIST's CSV), in colour as `<out>/<label>/<n>.png`: an external
set of that dataset, which a combined split adds to its training (docs/pipeline.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from handsign.core.atomic import atomic_path
from handsign.datasets.spec import DatasetSpec
from handsign.use.capture import Roi, Window, frames, grey, open_source
from handsign.use.drawing import annotate

# A class-folder image's side: the shared signers' hand-centred crops are 224 x 224 colour.
CLASS_FOLDER_SIZE = (224, 224)


def collecting(dataset: str) -> DatasetSpec:
    """The spec of a dataset that `collect` can write camera images of: in its download's layout,
    or in class folders (a dataset with a fixed list of classes)."""
    from handsign.datasets import DATASETS

    able = [name for name, spec in DATASETS.items() if spec.collect_path or spec.class_names]
    if dataset not in able:
        raise ValueError(f"--dataset {dataset!r}: collect writes {', '.join(able)}")
    return DATASETS[dataset]


def collected_path(out: Path, dataset: str, label: str, split: str = "train", subject: str = "00") -> Path:
    """Where the next image of `label` goes, in the dataset's Kaggle layout and naming, or as the
    next number in `<out>/<label>/` (an external set's class folder)."""
    spec = collecting(dataset)
    if spec.collect_path:
        return spec.collect_path(out, label, split, subject)
    if label not in spec.class_names:
        raise ValueError(f"--label {label!r} is no class of {dataset} ({', '.join(spec.class_names)})")
    numbers = [int(p.stem) for p in (out / label).glob("*.png") if p.stem.isdigit()]
    return out / label / f"{max(numbers, default=-1) + 1:05d}.png"  # after the last: a deleted photo leaves a gap


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
    aspect = spec.aspect if spec.collect_path else 1.0  # the region of interest has the shape of the images
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
                if spec.collect_path:  # the download's own kind of image: grey, at its size
                    image = Image.fromarray(grey(roi.crop(frame))).resize(spec.native_size, Image.BILINEAR)
                else:  # a photo from elsewhere, as the external sets hold them: colour (BGR -> RGB)
                    crop = roi.crop(frame)
                    rgb = crop[..., ::-1] if crop.ndim == 3 else crop
                    image = Image.fromarray(np.ascontiguousarray(rgb)).resize(CLASS_FOLDER_SIZE, Image.BILINEAR)
                with atomic_path(path) as tmp:
                    image.save(tmp, format="PNG")
                saved.append(path)
    finally:
        capture.release()
        window.close()
    return saved
