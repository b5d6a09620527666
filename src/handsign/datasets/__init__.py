"""One module per dataset format (the Kaggle ones, and `images`: a folder of your own);
`FORMATS` maps a `dataset` param to its module.

A format module provides `KAGGLE_HANDLE`, `CLASS_NAMES` and `read(raw_dir, image_size, resize) -> Prepared`.
"""

from __future__ import annotations

from types import ModuleType

from handsign.datasets import fingers, images, leapgestrecog, sign_mnist
from handsign.datasets.base import DatasetFormatError, Prepared, PreparedStore

FORMATS: dict[str, ModuleType] = {
    "sign_mnist": sign_mnist,
    "leapgestrecog": leapgestrecog,
    "fingers": fingers,
    "images": images,
}


def get_format(name: str) -> ModuleType:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "DatasetFormatError", "Prepared", "PreparedStore", "get_format"]
