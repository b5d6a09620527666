"""Autoencoders: a 64-number code per image, learned without labels by reconstructing the image.

`autoencoder_mlp` is the published one: the image flattened, an encoder 512-256-128-64 with ReLU,
the mirrored decoder ending in a sigmoid (the original took 128x128x3; ours takes our greyscale
tensors at any size). `autoencoder_conv` is ours: three stride-2 convolutions and one linear
layer down to the same 64-number code, and back up by nearest-neighbour upsampling and
convolution. Sharing weights across positions, it reconstructs better with far fewer parameters.

Like every model here, each is `head(features(x))`: `features` is the encoder (the embedding),
`head` the decoder. Its input is raw 0..255 pixels; its output is the image in 0..1.
`encoder_mlp` and `encoder_conv` are the same encoders with a linear classifier as the head,
under the same parameter names, so `init: models/<autoencoder experiment>/model.pt` starts a
classifier from what an autoencoder learned.
"""

from __future__ import annotations

import math

import torch
from torch import nn

CODE_SIZE = 64


class ScaleTo01(nn.Module):
    """Raw 0..255 pixels to 0..1, the range the decoder's sigmoid reconstructs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / 255.0


class MLPEncoder(nn.Sequential):
    def __init__(self, in_channels: int, image_size: int, widths: tuple[int, ...] = (512, 256, 128, CODE_SIZE)) -> None:
        layers: list[nn.Module] = [ScaleTo01(), nn.Flatten()]
        width = in_channels * image_size * image_size
        for w in widths:
            layers += [nn.Linear(width, w), nn.ReLU(inplace=True)]
            width = w
        super().__init__(*layers)


class MLPDecoder(nn.Module):
    def __init__(self, in_channels: int, image_size: int, widths: tuple[int, ...] = (128, 256, 512)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = CODE_SIZE
        for w in widths:
            layers += [nn.Linear(width, w), nn.ReLU(inplace=True)]
            width = w
        layers += [nn.Linear(width, in_channels * image_size * image_size), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)
        self.shape = (in_channels, image_size, image_size)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.layers(code).view(-1, *self.shape)


def _conv_sizes(image_size: int, steps: int = 3) -> list[int]:
    """The side after each stride-2 convolution (padding 1): 28 -> 14 -> 7 -> 4."""
    sizes = [image_size]
    for _ in range(steps):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


class ConvEncoder(nn.Sequential):
    def __init__(self, in_channels: int, image_size: int, widths: tuple[int, ...] = (16, 32, 32)) -> None:
        layers: list[nn.Module] = [ScaleTo01()]
        cin = in_channels
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            cin = w
        side = _conv_sizes(image_size, len(widths))[-1]
        layers += [nn.Flatten(), nn.Linear(cin * side * side, CODE_SIZE), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ConvDecoder(nn.Module):
    def __init__(self, in_channels: int, image_size: int, widths: tuple[int, ...] = (32, 32, 16)) -> None:
        super().__init__()
        sizes = _conv_sizes(image_size, len(widths))[::-1]  # 4, 7, 14, 28
        self.start = (widths[0], sizes[0], sizes[0])
        self.expand = nn.Sequential(nn.Linear(CODE_SIZE, widths[0] * sizes[0] * sizes[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i, size in enumerate(sizes[1:]):
            last = i == len(widths) - 1
            cout = in_channels if last else widths[i + 1]
            # Upsample to the encoder's exact sizes (7 -> 14 -> 28, not 8 -> 16 -> 32), then mix.
            layers += [nn.Upsample(size=(size, size), mode="nearest"), nn.Conv2d(widths[i], cout, 3, padding=1)]
            layers += [nn.Sigmoid()] if last else [nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.layers(self.expand(code).view(-1, *self.start))


class Autoencoder(nn.Module):
    """`decoder(encoder(x))`; `features` (the code) and `head` name the two halves as every model does."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @property
    def features(self) -> nn.Module:
        return self.encoder

    @property
    def head(self) -> nn.Module:
        return self.decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class EncoderClassifier(nn.Module):
    """An autoencoder's encoder with a linear head: a classifier that can start from the encoder."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(CODE_SIZE, num_classes)

    @property
    def features(self) -> nn.Module:
        return self.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def autoencoder_mlp(num_classes: int = 0, in_channels: int = 1, image_size: int = 28) -> Autoencoder:
    """`num_classes` is accepted and ignored: an autoencoder never sees a label."""
    return Autoencoder(MLPEncoder(in_channels, image_size), MLPDecoder(in_channels, image_size))


def autoencoder_conv(num_classes: int = 0, in_channels: int = 1, image_size: int = 28) -> Autoencoder:
    return Autoencoder(ConvEncoder(in_channels, image_size), ConvDecoder(in_channels, image_size))


def encoder_mlp(num_classes: int, in_channels: int = 1, image_size: int = 28) -> EncoderClassifier:
    return EncoderClassifier(MLPEncoder(in_channels, image_size), num_classes)


def encoder_conv(num_classes: int, in_channels: int = 1, image_size: int = 28) -> EncoderClassifier:
    return EncoderClassifier(ConvEncoder(in_channels, image_size), num_classes)
