"""Predict with a trained network on rows of an array (a prepared copy's images or landmark rows):
what evaluation and the tools share.

Kept out of the train stage's dependencies, so changing how predictions are made never
forces a retrain.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from handsign.core.runtime import to_device

NO_HAND = -1  # the prediction for a landmark row where the detector found no hand: always an error
NO_HAND_LABEL = "no hand"


def hand_found_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """A landmark model's share of test images with a hand found, and its accuracy on those alone
    (its `accuracy` counts every image, a missed hand as an error)."""
    hand = y_pred != NO_HAND
    return {
        "hand_found": float(hand.mean()),
        "accuracy_hand_found": float((y_true[hand] == y_pred[hand]).mean()) if hand.any() else 0.0,
    }


def names_of(class_names: list[str], predicted: np.ndarray) -> list[str]:
    """Class names of predictions, `no hand` for NO_HAND."""
    return [class_names[i] if i != NO_HAND else NO_HAND_LABEL for i in predicted]


def predict(model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class for `images[indices]`, batch by batch (the images may be a memory map). A
    landmark row with no hand in it (NaN) is predicted `NO_HAND`."""
    preds = [torch.where(found, logits.argmax(1), NO_HAND) for found, logits in _logits(model, images, indices, batch_size)]
    return torch.cat(preds).numpy() if preds else np.empty(0, dtype=np.int64)


def probabilities(model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities (N x classes, float32) for `images[indices]`; a row of zeros for a landmark
    row with no hand in it, as the served HandClassifier answers."""
    rows = [torch.where(found[:, None], logits.softmax(1), 0.0) for found, logits in _logits(model, images, indices, batch_size)]
    return torch.cat(rows).numpy() if rows else np.empty((0, 0), dtype=np.float32)


@torch.inference_mode()
def _logits(
    model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(found, logits) per batch of `images[indices]`, on the CPU; `found` is False for a row with NaN."""
    model.eval()
    device = next(model.parameters()).device
    for start in range(0, len(indices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[indices[start : start + batch_size]]))
        found = batch.isfinite().flatten(1).all(1)
        yield found, model(to_device(batch.nan_to_num(), device)).float().cpu()
