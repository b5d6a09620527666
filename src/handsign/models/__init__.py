"""One module per model family; `MODELS` is the one list of model names, and says of each what
kind of model it is.

`build_model` maps the `model` param to a network; `init` says where its starting weights come
from: `random`, `imagenet` for the torchvision families (`PRETRAINED`), or an earlier run of ours
(a checkpoint file or an MLflow model URI, loaded by `handsign.training.warmstart` once the model is built).
Every model is `head(features(x))`: `freeze_backbone` trains `head` alone. Its `Kind` is the one
answer to "what is this model": a pixel classifier, an autoencoder (it learns to reconstruct its
input: `handsign.training.tasks`), or a classifier of hand landmarks (rows of `handsign.hands.handfeatures`, not
pixels: its experiments read data/landmarks/<dataset>, and say so: `reads:` in params.yaml).
Everything that asks, from the config check to serving, asks `kind_of`.
"""

from __future__ import annotations

import enum
import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from torch import nn


class Kind(enum.Enum):
    PIXELS = "pixel classifier"  # images in, class probabilities out
    AUTOENCODER = "autoencoder"  # images in, images out
    LANDMARKS = "landmark classifier"  # a hand's landmarks in, class probabilities out


class Entry(NamedTuple):
    module: str  # under handsign.models
    constructor: str
    kwargs: dict[str, Any]
    kind: Kind = Kind.PIXELS


# name -> (module under handsign.models, constructor, keyword arguments[, kind]). Importing this
# package costs nothing (the configure stage and the CLI check names without loading torch); a
# model's module, and torch with it, is imported when `build_model` first builds one.
MODELS: dict[str, Entry] = {
    "cnn_seed": Entry("cnn", "SeedCNN", {}),
    "cnn_small": Entry("cnn", "SmallCNN", {}),
    "handsign_resnet18": Entry("imagenet", "HandSignModel", {"arch": "resnet18"}),
    "handsign_resnet50": Entry("imagenet", "HandSignModel", {"arch": "resnet50"}),
    "resnet18": Entry("imagenet", "GreyscaleNet", {"arch": "resnet18"}),
    "mobilenet_v2": Entry("imagenet", "GreyscaleNet", {"arch": "mobilenet_v2"}),
    "autoencoder_mlp": Entry("autoencoder", "autoencoder_mlp", {}, Kind.AUTOENCODER),
    "autoencoder_conv": Entry("autoencoder", "autoencoder_conv", {}, Kind.AUTOENCODER),
    "encoder_mlp": Entry("autoencoder", "encoder_mlp", {}),
    "encoder_conv": Entry("autoencoder", "encoder_conv", {}),
    "landmark_mlp": Entry("landmark", "LandmarkMLP", {}, Kind.LANDMARKS),
    # The 3-D world points alone: what carried over better from Sign MNIST (docs/results.md).
    "landmark_mlp_world": Entry("landmark", "LandmarkMLP", {"inputs": "world"}, Kind.LANDMARKS),
    # The hand's pose alone (bends, spreads, the thumb's reach): the same for either hand, any turn or view.
    "landmark_mlp_joints": Entry("landmark", "LandmarkMLP", {"inputs": "joints"}, Kind.LANDMARKS),
}


def kind_of(name: str) -> Kind:
    """What kind of model `name` is (a ValueError names the registered models)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name].kind


AUTOENCODERS = tuple(name for name, entry in MODELS.items() if entry.kind is Kind.AUTOENCODER)
LANDMARK_MODELS = tuple(name for name, entry in MODELS.items() if entry.kind is Kind.LANDMARKS)
PRETRAINED = tuple(name for name, entry in MODELS.items() if entry.module == "imagenet")
INITS = ("random", "imagenet")
CHECKPOINT_SUFFIXES = (".pt", ".pth")
MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")


def is_warm_start(init: str) -> bool:
    """Whether `init` names an earlier run's weights: a checkpoint file or an MLflow model URI."""
    return init.startswith(MLFLOW_SCHEMES) or init.endswith(CHECKPOINT_SUFFIXES)


def check_model(name: str, init: str = "random", holdout_class: str = "") -> None:
    """Raise ValueError, naming the choices, unless `name` is registered and can start from `init`
    (and, given a `holdout_class` to train without, is an autoencoder)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if holdout_class and name not in AUTOENCODERS:
        raise ValueError(f"holdout_class is for autoencoders ({', '.join(AUTOENCODERS)}): a classifier must see every class")
    if init not in INITS and not is_warm_start(init):
        raise ValueError(
            f"init {init!r} is not one of {', '.join(INITS)}, a checkpoint file ({' or '.join(CHECKPOINT_SUFFIXES)}) "
            f"or an MLflow model URI ({', '.join(s + '...' for s in MLFLOW_SCHEMES)})"
        )
    if init == "imagenet" and name not in PRETRAINED:
        raise ValueError(f"model {name!r} has no ImageNet weights; init: imagenet needs one of {', '.join(PRETRAINED)}")


def imagenet_arch(name: str) -> str:
    """The torchvision architecture (its ImageNet checkpoint) behind a model of `PRETRAINED`."""
    return MODELS[name].kwargs["arch"]


def build_model(name: str, num_classes: int, in_channels: int = 1, image_size: int = 28, init: str = "random") -> nn.Module:
    """A fresh network; for a warm-start `init` its weights are random until `warmstart.warm_start`."""
    check_model(name, init)
    module, constructor, kwargs, _ = MODELS[name]
    make = getattr(importlib.import_module(f"handsign.models.{module}"), constructor)
    extra = {"imagenet": True} if init == "imagenet" else {}
    return make(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs, **extra)
