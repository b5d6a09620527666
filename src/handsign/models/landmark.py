"""A classifier of hand landmarks (handsign.hands.handfeatures rows), not of pixels: a few hundred
numbers that are the same for every skin, background and camera."""

from __future__ import annotations

import torch
from torch import nn


class LandmarkMLP(nn.Module):
    """Two hidden layers (256, 128) with LayerNorm, GELU and dropout; `in_channels` is the row width.
    LayerNorm, not BatchNorm: a batch of one hand (the live camera) is normalised as in training."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int = 0, hidden: int = 256) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden // 2), nn.LayerNorm(hidden // 2), nn.GELU(), nn.Dropout(0.2),
        )  # fmt: skip
        self.head = nn.Linear(hidden // 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
