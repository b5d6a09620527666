"""A classifier of hand landmarks (handsign.hands.handfeatures rows), not of pixels: a few hundred
numbers that are the same for every skin, background and camera."""

from __future__ import annotations

import torch
from torch import nn

from handsign.hands import handfeatures


class LandmarkMLP(nn.Module):
    """Two hidden layers (256, 128) with LayerNorm, GELU and dropout; `in_channels` is the row width.
    LayerNorm, not BatchNorm: a batch of one hand (the live camera) is normalised as in training.

    `inputs` picks the columns it reads: `all` of the row, or `world`, MediaPipe's 3-D points alone
    (not the image points, not the handedness), or `joints`, the pose computed from those points
    (handfeatures.joints: each finger's bends and spreads, the thumb's reach). The row stays whole
    everywhere else (augmentation, mirroring, serving, export): the choice lives in the network."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int = 0, hidden: int = 256,
                 inputs: str = "all") -> None:  # fmt: skip
        super().__init__()
        world = handfeatures.WORLD
        columns = {"all": range(in_channels), "world": range(world.start, world.stop), "joints": range(world.start, world.stop)}
        if inputs not in columns:
            raise ValueError(f"unknown landmark inputs {inputs!r}; known: {', '.join(columns)}")
        self.joints = inputs == "joints"
        self.register_buffer("columns", torch.tensor(list(columns[inputs])), persistent=False)
        width = handfeatures.JOINT_FEATURES if self.joints else len(self.columns)
        self.features = nn.Sequential(
            nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden // 2), nn.LayerNorm(hidden // 2), nn.GELU(), nn.Dropout(0.2),
        )  # fmt: skip
        self.head = nn.Linear(hidden // 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.index_select(1, self.columns)
        if self.joints:  # the pose computed from the world points
            x = handfeatures.joints(x.reshape(-1, handfeatures.POINTS, 3))  # -1: a traced export takes any batch
        return self.head(self.features(x))
