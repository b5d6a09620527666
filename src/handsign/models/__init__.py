"""One module per model family; `MODELS` is the one list of model names.

`build_model` maps the `model` param to a network; `init` says where its starting weights come
from: `random`, `imagenet` for the torchvision families (`PRETRAINED`), or an earlier run of ours
(a checkpoint file or an MLflow model URI, loaded by `handsign.warmstart` once the model is built).
Every model is `head(features(x))`: `freeze_backbone` trains `head` alone. `AUTOENCODERS` learn
to reconstruct their input (`handsign.tasks`); every other model classifies. `LANDMARK_MODELS`
take hand landmarks, not pixels.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

# name -> (module under handsign.models, constructor, keyword arguments). Importing this package
# costs nothing (the configure stage and the CLI check names without loading torch); a model's
# module, and torch with it, is imported when `build_model` first builds one.
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cnn_seed": ("cnn", "SeedCNN", {}),
    "cnn_small": ("cnn", "SmallCNN", {}),
    "handsign_resnet18": ("imagenet", "HandSignModel", {"arch": "resnet18"}),
    "handsign_resnet50": ("imagenet", "HandSignModel", {"arch": "resnet50"}),
    "resnet18": ("imagenet", "GreyscaleNet", {"arch": "resnet18"}),
    "mobilenet_v2": ("imagenet", "GreyscaleNet", {"arch": "mobilenet_v2"}),
    "autoencoder_mlp": ("autoencoder", "autoencoder_mlp", {}),
    "autoencoder_conv": ("autoencoder", "autoencoder_conv", {}),
    "encoder_mlp": ("autoencoder", "encoder_mlp", {}),
    "encoder_conv": ("autoencoder", "encoder_conv", {}),
    "landmark_mlp": ("landmark", "LandmarkMLP", {}),
}
AUTOENCODERS = ("autoencoder_mlp", "autoencoder_conv")
# Models of hand landmarks (handsign.handfeatures rows) rather than images: their experiments are
# declared under landmark_experiments: / landmark_crossval: and read data/landmarks/<dataset>.
LANDMARK_MODELS = ("landmark_mlp",)
PRETRAINED = tuple(name for name, (module, _, _) in MODELS.items() if module == "imagenet")
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
    return MODELS[name][2]["arch"]


def build_model(name: str, num_classes: int, in_channels: int = 1, image_size: int = 28, init: str = "random") -> nn.Module:
    """A fresh network; for a warm-start `init` its weights are random until `warmstart.warm_start`."""
    check_model(name, init)
    module, constructor, kwargs = MODELS[name]
    make = getattr(importlib.import_module(f"handsign.models.{module}"), constructor)
    extra = {"imagenet": True} if init == "imagenet" else {}
    return make(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs, **extra)
