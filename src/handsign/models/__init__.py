"""One module per model family; `build_model` maps the `model` param to a network."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from handsign.models.cnn import SeedCNN, SmallCNN

MODELS: dict[str, Callable[..., nn.Module]] = {
    "cnn_seed": SeedCNN,
    "cnn_small": SmallCNN,
}


def build_model(name: str, num_classes: int, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return factory(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
