"""What handsign knows about one dataset format, in one place: each format module ends with its
`SPEC`, and `handsign.datasets.DATASETS` lists them. Everything else (the params check, the
download, prepare, evaluate's per-group report, contact sheets, the camera tools) reads the spec
instead of keeping a table of its own. The synthetic source is the renderer's to register
(`handsign.synth.RENDERERS`): a dataset format knows nothing of how it is drawn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        """No Kaggle format: the data is the user's own folder (`source: local`). The Kaggle formats
        are also drawn offline by the synthetic source (handsign.synth.RENDERERS)."""
        return not self.kaggle_handle
