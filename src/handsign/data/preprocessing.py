"""What a model's training data went through, so that any new image can be made like it: one
type per kind of model, written into the checkpoint by train (`of_store`) and read back by
serving, `handsign score` and the exporters (`saved`). A pixel classifier's images were resized
(`Preprocessing`); a landmark classifier's hands were found by the hand landmarker with its
dataset's settings (`HandPreprocessing`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from handsign.config import landmark_params_from_dict
from handsign.core.imagefile import grey_pixels, image_pixels
from handsign.core.schema import LandmarkParams
from handsign.datasets.base import to_square_array
from handsign.models import Kind, kind_of

if TYPE_CHECKING:
    from handsign.datasets import PreparedStore


@dataclass(frozen=True)
class Preprocessing:
    """What a model's training data went through, so that any image can be made like it; with
    `hand_crop`, an image from elsewhere is first cut to its hand (handsign.hands.handcrop), found
    as `hand_box` says."""

    image_size: int
    resize: str  # stretch | letterbox | center_crop, as data.<copy>.resize
    class_names: list[str]
    hand_crop: float = 0.0  # the training key: the crop's side in hand boxes; 0 shows images whole
    hand_box: LandmarkParams | None = None  # how the detector is shown an image (landmarks.<dataset>)

    def to_dict(self) -> dict[str, Any]:
        """What the checkpoint holds (plain values: it is read with torch.load(weights_only=True))."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def array(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """One image as the model's uint8 1 x S x S input."""
        return to_square_array(as_grey(image), self.image_size, self.resize)[None]


@dataclass(frozen=True)
class HandPreprocessing:
    """What a landmark model's training images went through: the hand landmarker, shown each
    greyscale image as `landmarks` says (landmarks.<dataset> of the params it was trained with)."""

    class_names: list[str]
    landmarks: LandmarkParams

    def to_dict(self) -> dict[str, Any]:
        return {"class_names": self.class_names, "landmarks": dataclasses.asdict(self.landmarks)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> HandPreprocessing:
        return cls(list(saved["class_names"]), landmark_params_from_dict(saved["landmarks"], "preprocessing.landmarks"))


def of_store(store: PreparedStore, kind: Kind, hand_crop: float = 0.0,
             hand_box: LandmarkParams | None = None) -> Preprocessing | HandPreprocessing:  # fmt: skip
    """What a new image must go through to look like `store`'s: the size and resize of its images
    (first cut to the hand `hand_box` finds, with `hand_crop`), or, for a landmark model, how their
    hands were found."""
    if kind is Kind.LANDMARKS:
        if store.landmarks is None:
            raise ValueError("a landmark model's store carries how its hands were found (handsign.data.splitdata.load_split)")
        return HandPreprocessing(store.class_names, store.landmarks)
    if hand_crop > 0 and hand_box is None:
        raise ValueError("hand_crop needs the detector's settings (hand_box) to find the hand")
    return Preprocessing(store.images.shape[-1], store.resize, store.class_names, hand_crop, hand_box if hand_crop else None)


def saved(checkpoint: dict, path: Path, resize: str | None = None) -> Preprocessing | HandPreprocessing:
    """A checkpoint's preprocessing, of its model's kind. An older pixel checkpoint has none: its input
    size and `resize` (else stretch) stand in. A landmark checkpoint from before landmark models
    carried how they find hands is named, with what to do."""
    entry = checkpoint.get("preprocessing") or {}
    if kind_of(checkpoint["model_name"]) is Kind.LANDMARKS:
        if "landmarks" not in entry:
            raise ValueError(f"{path} is a hand-landmark model trained before landmark models carried how they find "
                             "hands: retrain it (dvc repro)")  # fmt: skip
        return HandPreprocessing.from_dict(entry)
    if not entry:
        return Preprocessing(checkpoint["input_shape"][1], resize or "stretch", list(checkpoint["class_names"]))
    box = entry.get("hand_box")
    box_settings = landmark_params_from_dict(box, "preprocessing.hand_box") if box else None
    return Preprocessing(int(entry["image_size"]), entry["resize"], list(entry["class_names"]),
                         float(entry.get("hand_crop", 0.0)), box_settings)  # fmt: skip


def as_picture(image: Image.Image | np.ndarray) -> np.ndarray:
    """One image with its colour kept (handsign.core.imagefile.image_pixels): uint8 H x W x 3 RGB, or
    H x W where it is greyscale. Arrays as `as_grey` takes them."""
    return image_pixels(_pil(image))


def as_grey(image: Image.Image | np.ndarray) -> np.ndarray:
    """One image (PIL, or a uint8 H x W greyscale / H x W x 3 RGB / H x W x 4 RGBA array) as uint8
    H x W greyscale, read to grey as prepare reads files (handsign.core.imagefile)."""
    return grey_pixels(_pil(image))


def _pil(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"expected a uint8 H x W or H x W x 1/3/4 array, got {image.dtype} {image.shape}")
        image = Image.fromarray(image if image.ndim == 2 or image.shape[2] > 1 else image[:, :, 0])
    return image
