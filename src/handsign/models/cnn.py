"""Small CNNs for 28x28 greyscale letters (they take any square size)."""

from __future__ import annotations

import torch
from torch import nn


class ScaleInput(nn.Module):
    """Raw 0..255 pixels in, roughly zero-mean unit-scale values out, so callers never pre-scale."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x / 255.0 - 0.5) / 0.25


def _flat_size(features: nn.Module, in_channels: int, image_size: int) -> int:
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, image_size, image_size)).numel()


class SeedCNN(nn.Module):
    """The published Sign MNIST network: conv 10/20/30 (3x3) with max-pools, dropout 0.4, fc 256.

    Fixed: inputs are scaled, and the logits leave without the ReLU the original put before the
    softmax (which zeroed every negative score). The head has one output per class present (24),
    not 26: J and Z never occur, so their outputs could only ever learn to be ignored.
    """

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ScaleInput(),
            nn.Conv2d(in_channels, 10, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(10, 20, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 30, 3), nn.ReLU(),
            nn.Dropout(0.4),
            nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Linear(_flat_size(self.features, in_channels, image_size), 256), nn.ReLU(), nn.Linear(256, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Five conv-BN layers in three stages (16, 32, 64 channels), global average pooling, dropout, linear."""

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 28, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            ScaleInput(),
            *_conv_bn(in_channels, w), nn.MaxPool2d(2),
            *_conv_bn(w, 2 * w), *_conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv_bn(2 * w, 4 * w), *_conv_bn(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
