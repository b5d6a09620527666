"""Where pretrained ImageNet weights are found before anything is downloaded (torch-free, so a
pre-flight check costs nothing).

torchvision's weights API looks in its hub cache (`$TORCH_HOME/hub/checkpoints/`, by default
`~/.cache/torch/hub/checkpoints/`) and downloads what is missing. Offline, a checkpoint may sit
on handsign's search path for weights (`handsign.core.weights.search_dirs`: `$HANDSIGN_WEIGHTS`,
`../shared/weights/`, handsign's cache). Files are found by torchvision's own file names.
"""

from __future__ import annotations

import os
from pathlib import Path

from handsign.core.weights import search_dirs

# torchvision's file name for each architecture's ImageNet checkpoint (the last part of its URL;
# tests/test_models.py checks them against torchvision).
IMAGENET_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet50": "resnet50-11ad3fa6.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
}
DOWNLOAD_HOST = ("download.pytorch.org", 443)


def hub_cache() -> Path:
    """torch.hub's checkpoint folder, computed as torch.hub.get_dir() does."""
    if os.environ.get("TORCH_HOME"):
        home = Path(os.environ["TORCH_HOME"])
    else:
        home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"
    return home.expanduser() / "hub" / "checkpoints"


def find_imagenet(arch: str) -> Path | None:
    """The local ImageNet checkpoint of `arch`: in the hub cache, else in a search folder; None if absent."""
    name = IMAGENET_FILES[arch]
    for folder in (hub_cache(), *search_dirs()):
        if (folder / name).is_file():
            return folder / name
    return None


def missing_message(arch: str) -> str:
    """What to do when `arch`'s checkpoint is nowhere here and cannot be downloaded."""
    name = IMAGENET_FILES[arch]
    looked = ", ".join(str(d) for d in search_dirs())
    return (f"ImageNet weights for {arch}: {name} is not in {hub_cache()} (nor in {looked}) and could not be downloaded. "
            f"Put {name} in one of those folders (HANDSIGN_WEIGHTS or TORCH_HOME choose them), or use init: random.")  # fmt: skip
