"""One module per dataset format (the Kaggle ones, and `images`: a folder of your own), each
ending with its `SPEC` (handsign.datasets.spec.DatasetSpec); `DATASETS` below is the registry:
adding a format is one module and one line here, then its entry in params.yaml."""

from __future__ import annotations

from handsign.datasets import fingers, images, leapgestrecog, sign_mnist
from handsign.datasets.base import RESIZE_MODES, DatasetFormatError, Prepared, PreparedStore
from handsign.datasets.spec import DatasetSpec

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        sign_mnist.SPEC,
        leapgestrecog.SPEC,
        fingers.SPEC,
        images.SPEC,
    )
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


__all__ = ["DATASETS", "RESIZE_MODES", "DatasetFormatError", "DatasetSpec", "Prepared", "PreparedStore", "get_spec"]
