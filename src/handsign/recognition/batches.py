"""Images classified a batch at a time, the batch bounded by decoded pixels rather than by count:
what predict, `handsign score --external` and the served model share, so that memory stays flat
whatever the number (and size) of the images."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

BATCH_PIXELS = 20_000_000  # decoded pixels held at once before they are classified (about 60 MB in colour)
MAX_PIXELS = 50_000_000  # per image: a 50-megapixel photo decodes to 150 MB; larger is refused unread


def probabilities_in_batches(recogniser, images: Iterable[np.ndarray | Image.Image], batch_pixels: int = BATCH_PIXELS,
                             progress: Callable[[int], None] | None = None) -> np.ndarray:  # fmt: skip
    """N x classes probabilities of `images` (decoded one at a time as they are drawn), classified
    whenever the decoded pixels held reach `batch_pixels`; `progress(done)` after each batch."""
    answers, batch, held, done = [], [], 0, 0
    for image in images:
        batch.append(image)
        held += image.shape[0] * image.shape[1] if isinstance(image, np.ndarray) else image.width * image.height
        if held >= batch_pixels:
            answers.append(recogniser.probabilities(batch))
            done += len(batch)
            batch, held = [], 0
            if progress is not None:
                progress(done)
    if batch:
        answers.append(recogniser.probabilities(batch))
        if progress is not None:
            progress(done + len(batch))
    classes = len(recogniser.preprocessing.class_names)
    return np.concatenate(answers) if answers else np.zeros((0, classes), dtype=np.float32)
