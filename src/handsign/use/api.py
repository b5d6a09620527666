"""The Python API: a trained model in your own program.

    import handsign
    model = handsign.load("models/fingers_landmarks/model.pt")   # or "models:/handsign-<name>-<source>@champion"
    for answer in model.predict(["hand.jpg", pil_image, numpy_array]):
        print(answer.label, answer.probability)

`predict` takes paths, PIL images and uint8 arrays (colour or grey, any size) and answers as `handsign
predict` does, through the same recogniser: the label, its probability and every class's, "no hand"
where a landmark model found none. Files are decoded and classified in batches bounded by pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from handsign.core.imagefile import read_image
from handsign.recognition.batches import BATCH_PIXELS, MAX_PIXELS, probabilities_in_batches
from handsign.recognition.loading import Recogniser
from handsign.use.predict import load_model


@dataclass(frozen=True)
class Answer:
    """What the model says of one image."""

    label: str  # a class name, or "no hand"
    probability: float  # the label's; 0 for "no hand"
    probabilities: dict[str, float]  # every class's (all 0 for "no hand")


class Model:
    """A trained model (one, or an ensemble) and `predict`."""

    def __init__(self, recogniser: Recogniser) -> None:
        self.recogniser = recogniser

    @property
    def class_names(self) -> list[str]:
        return list(self.recogniser.preprocessing.class_names)

    def predict(self, images: Iterable[str | Path | Image.Image | np.ndarray], max_pixels: int = MAX_PIXELS,
                batch_pixels: int = BATCH_PIXELS) -> list[Answer]:  # fmt: skip
        """One answer per image, in order. A path is read as `handsign predict` reads it (refused by
        name, as a ValueError, when it cannot be); an array is uint8 H x W, H x W x 3 (RGB) or x 4."""

        def pictures() -> Iterator[Image.Image | np.ndarray]:
            for image in images:
                yield read_image(image, max_pixels=max_pixels) if isinstance(image, str | Path) else image

        rows = self.recogniser.table(probabilities_in_batches(self.recogniser, pictures(), batch_pixels)).to_dict("records")
        return [Answer(row.pop("label"), row.pop("probability"), row) for row in rows]  # predict's table, row by row


def load(*models: str | Path, root: Path | None = None) -> Model:
    """A checkpoint (`models/<experiment>/model.pt`) or an MLflow model URI of ours
    (`models:/handsign-<experiment>-<source>@champion`, from the repository's store or
    MLFLOW_TRACKING_URI); two models of the same classes answer together as an ensemble."""
    if not models:
        raise ValueError("handsign.load: name a checkpoint or an MLflow model URI")
    return Model(load_model([str(m) for m in models], root))
