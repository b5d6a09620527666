"""The hand in a photograph cut out as a pixel model's datasets show it. Sign MNIST's and Fingers'
images are hand crops, a photo from elsewhere is a scene with a hand somewhere in it: shown whole,
a Sign MNIST CNN recognises 1-5% of another signer's webcam letters; cut to the square around the
detector's 21 landmarks (and trained with mirrored hands) about a third (docs/results.md).
A pixel model's training key `hand_crop` turns this on for every image from elsewhere: `predict`,
the served model, `score`, `live` and the external sets; the dataset's own images are crops already."""

from __future__ import annotations

import numpy as np
from PIL import Image


def hand_square(points: np.ndarray, width: int, height: int, scale: float) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) in pixels of the square centred on the landmarks' box, `scale`
    times its longer side; None where no hand was found (NaN points)."""
    if not np.isfinite(points[:, :2]).all():
        return None
    xs, ys = points[:, 0] * width, points[:, 1] * height
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    half = max(xs.max() - xs.min(), ys.max() - ys.min(), 1.0) * scale / 2
    return cx - half, cy - half, cx + half, cy + half


def crop_to_hand(picture: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray:
    """`picture` (uint8 H x W or H x W x 3) cut to `hand_square`, its colours kept; a square reaching
    past the picture's edge continues its border pixels (as the training augmentation pads). The
    whole picture where no hand was found: the model still answers, from the scene."""
    height, width = picture.shape[:2]
    box = hand_square(points, width, height, scale)
    if box is None:
        return picture
    left, top, right, bottom = box
    pad = int(np.ceil(max(0.0, -left, -top, right - width, bottom - height))) + 1
    padding = ((pad, pad), (pad, pad)) + ((0, 0),) * (picture.ndim - 2)
    padded = Image.fromarray(np.pad(picture, padding, mode="edge"))
    side = max(1, round(right - left))
    shifted = (left + pad, top + pad, right + pad, bottom + pad)
    return np.asarray(padded.resize((side, side), Image.BILINEAR, box=shifted))
