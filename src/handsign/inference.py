"""Load a trained checkpoint and predict with it: what evaluation and the tools share.

Kept out of the train stage's dependencies, so changing how predictions are made never
forces a retrain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from handsign.models import build_model
from handsign.runtime import to_device


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """The trained network (in eval mode) and its checkpoint dict, which carries the resolved config."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the train stage first")
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    channels, size, _ = checkpoint["input_shape"]
    model = build_model(checkpoint["model_name"], len(checkpoint["class_names"]), channels, size)
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), checkpoint


@torch.inference_mode()
def predict(model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class for `images[indices]`, batch by batch (the images may be a memory map)."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for start in range(0, len(indices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[indices[start : start + batch_size]]))
        preds.append(model(to_device(batch, device)).argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.empty(0, dtype=np.int64)
