"""What handsign knows about one dataset format, in one place: each format module ends with its
`SPEC`, and `handsign.datasets.DATASETS` lists them. Everything else (the params check, the
download, prepare, the synthetic source, evaluate's per-group report, contact sheets, the camera
tools) reads the spec instead of keeping a table of its own."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handsign.config import SyntheticParams
    from handsign.datasets.base import Prepared


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the key under `datasets:` in params.yaml
    read: Callable[..., Prepared]  # (raw folder, image_size, resize) -> every sample, greyscale and square
    locate: Callable[[Path], Any]  # (raw folder) -> its files; raises DatasetFormatError on another layout
    kaggle_handle: str = ""  # `owner/name` on Kaggle; "" where there is nothing to download
    class_names: tuple[str, ...] = ()  # () where the data names its classes (a folder per class)
    group: str = "group"  # what the split file's `group` column holds: subject, hand, ...
    native_size: tuple[int, int] | None = None  # (width, height) of every image file; None: any size
    renderer: str = ""  # `module:function(out, SyntheticParams, seed)` for the synthetic source; "": none
    preview: tuple[int, tuple[int, int]] | None = None  # contact sheet: (prepared size, cell (width, height))
    # `handsign collect`: (out folder, label, split, subject) -> where the next camera image goes,
    # named as the dataset names its files; a ValueError names a bad label. None: no camera collection.
    collect_path: Callable[[Path, str, str, str], Path] | None = None

    @property
    def aspect(self) -> float:
        """Width over height of the dataset's images: the shape of the camera tools' region of interest."""
        return self.native_size[0] / self.native_size[1] if self.native_size else 1.0

    @property
    def local_only(self) -> bool:
        """Neither downloadable nor rendered: the data is the user's own folder (`source: local`)."""
        return not self.kaggle_handle and not self.renderer

    def render(self, out: Path, params: SyntheticParams, seed: int) -> None:
        """Write the synthetic version of the dataset into `out`, in its Kaggle layout."""
        if not self.renderer:
            raise ValueError(f"no synthetic renderer for dataset {self.name!r}")
        module, function = self.renderer.split(":")
        getattr(importlib.import_module(module), function)(out, params, seed)  # the renderer is heavy: import on use
