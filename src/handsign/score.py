"""`handsign score`: a trained checkpoint on another copy of its dataset (a Kaggle archive or its
folder), read as prepare reads it and made square as the model's training data was."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handsign.datasets import get_spec
from handsign.inference import load_checkpoint, predict
from handsign.report import classification_metrics
from handsign.sources import unpacked


def score_checkpoint(checkpoint: Path, data: Path, dataset: str, split: str = "test") -> dict:
    """Accuracy, precision, recall and F1 of `checkpoint` on DATA's official `split` (test | train | all)."""
    model, ckpt = load_checkpoint(checkpoint)
    with unpacked(data) as raw:
        resize = (ckpt.get("preprocessing") or {}).get("resize", "stretch")
        prepared = get_spec(dataset).read(raw, ckpt["input_shape"][1], resize)
    if prepared.class_names != ckpt["class_names"]:
        raise ValueError(f"{checkpoint} was trained on classes {ckpt['class_names']}, {data} has {prepared.class_names}")
    chosen = np.arange(len(prepared.labels))
    if split != "all":
        chosen = np.flatnonzero(np.asarray(prepared.official_splits) == split)
        if chosen.size == 0:
            raise ValueError(f"{data} has no official {split} part; use --split all")
    summary, _ = classification_metrics(prepared.labels[chosen], predict(model, prepared.images, chosen), prepared.class_names)
    return summary
