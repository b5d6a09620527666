"""ImageNet architectures from torchvision, adapted to our greyscale 0..255 tensors.

`handsign_resnet18` / `handsign_resnet50` are the published HandSignModel: a learned 1->3
channel 3x3 conv adapter, a second 3x3 conv and ReLU, the torchvision backbone with its
1000-way head, then FC 1000->500->100->N. `resnet18` and `mobilenet_v2` are the plain networks
with a one-channel first conv (initialised from RGB weights by summing over colour) and an N-way
head. Every one trains on logits; softmax is for probabilities only. Like every model here,
each is `head(features(x))`, so `freeze_backbone` can train the head alone.

ImageNet weights come through torchvision's weights API, which looks in
`$TORCH_HOME/hub/checkpoints/` before it downloads, or, offline, from a folder `handsign.core.weights`
searches (`HANDSIGN_WEIGHTS`, `../shared/weights/`); absent from all, we fail at once and name
the file and the folders to put it in.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import MobileNet_V2_Weights, ResNet18_Weights, ResNet50_Weights

from handsign.models.weights import IMAGENET_FILES, find_imagenet, hub_cache, missing_message

IMAGENET_WEIGHTS = {
    "resnet18": ResNet18_Weights.IMAGENET1K_V1,
    "resnet50": ResNet50_Weights.IMAGENET1K_V2,
    "mobilenet_v2": MobileNet_V2_Weights.IMAGENET1K_V1,
}
# ImageNet's per-channel statistics; a one-channel input uses their mean.
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that are neither cached nor downloadable; the message says where to put them."""


def imagenet_weights_file(arch: str) -> Path:
    """Where torchvision's weights API looks for `arch`'s ImageNet checkpoint before downloading it."""
    return hub_cache() / IMAGENET_FILES[arch]


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """`arch`'s ImageNet weights: a local copy (`handsign.core.weights.find_imagenet`), else downloaded
    by torchvision's weights API into its cache."""
    found = find_imagenet(arch)
    if found is not None:
        if found != imagenet_weights_file(arch):
            print(f"ImageNet weights for {arch}: {found}")
        return torch.load(found, map_location="cpu", weights_only=True)
    try:
        return IMAGENET_WEIGHTS[arch].get_state_dict(progress=False)
    except OSError as e:  # URLError, socket errors, a read-only cache
        raise WeightsUnavailable(f"{missing_message(arch)} ({type(e).__name__}: {e})") from None


def _backbone(arch: str, imagenet: bool) -> nn.Module:
    net = getattr(torchvision.models, arch)()
    if imagenet:
        net.load_state_dict(imagenet_state_dict(arch))
    return net


class ImageNetInput(nn.Module):
    """Raw 0..255 pixels to ImageNet-normalised values, for `channels` = 1 or 3."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mean = torch.tensor(MEAN if channels == 3 else [sum(MEAN) / 3]).view(1, -1, 1, 1)
        std = torch.tensor(STD if channels == 3 else [sum(STD) / 3]).view(1, -1, 1, 1)
        self.register_buffer("mean", mean * 255, persistent=False)
        self.register_buffer("std", std * 255, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def greyscale_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A one-channel copy of an RGB conv whose weights are the RGB weights summed over colour:
    on a grey image (R = G = B) it computes what the RGB conv did."""
    grey = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups,
                     bias=conv.bias is not None)  # fmt: skip
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            grey.bias.copy_(conv.bias)
    return grey


class HandSignModel(nn.Module):
    """The published LeapGestRecog model: conv adapter 1->3, conv 3->3 + ReLU, backbone (1000), FC 500, 100, N."""

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 224, arch: str = "resnet18",
                 imagenet: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.input = ImageNetInput(in_channels)
        self.adapter = nn.Sequential(nn.Conv2d(in_channels, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())
        self.backbone = _backbone(arch, imagenet)
        self.head = nn.Sequential(nn.Linear(1000, 500), nn.ReLU(), nn.Linear(500, 100), nn.ReLU(), nn.Linear(100, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.adapter(self.input(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GreyscaleNet(nn.Module):
    """A torchvision ResNet or MobileNetV2 with a one-channel first conv and an N-way head."""

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 224, arch: str = "resnet18",
                 imagenet: bool = False) -> None:  # fmt: skip
        super().__init__()
        if in_channels != 1:
            raise ValueError(f"{arch}: expects one-channel (greyscale) images, got {in_channels} channels")
        self.input = ImageNetInput(1)
        net = _backbone(arch, imagenet)
        if arch == "mobilenet_v2":
            net.features[0][0] = greyscale_conv(net.features[0][0])
            head = net.classifier  # dropout, linear
            head[-1] = nn.Linear(head[-1].in_features, num_classes)
            net.classifier = nn.Identity()
        else:
            net.conv1 = greyscale_conv(net.conv1)
            head = nn.Linear(net.fc.in_features, num_classes)
            net.fc = nn.Identity()
        self.net = net  # ends in the pooled features
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
