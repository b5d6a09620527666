"""handsign: a reproducible pipeline that trains and serves hand-gesture recognisers.

`handsign.load(<checkpoint or models:/ URI>).predict(images)`: a trained model in your own program
(handsign.use.api; docs/using-models.md)."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # `handsign.load` on first use: every stage script imports this package, and must neither pay for
    # nor (in its code fingerprint) depend on what using a trained model imports.
    if name in ("load", "Model", "Answer"):
        return getattr(importlib.import_module("handsign.use.api"), name)
    raise AttributeError(f"module 'handsign' has no attribute {name!r}")
