"""`handsign landmarks detect`: how often the landmarks stage's settings find a hand in a dataset
archive or folder (tuning them on real photographs: ../shared/data/'s samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handsign.config import LandmarkParams
from handsign.landmarks import detect_all, find_model, read_for_landmarks


def read_dataset(data: Path, dataset: str, params: LandmarkParams) -> tuple[np.ndarray, list[str], float]:
    """A dataset archive or folder read as the landmarks stage reads it: (images, class name per
    image, aspect)."""
    from handsign.sources import unpacked

    with unpacked(data) as raw:
        prepared, aspect = read_for_landmarks(raw, dataset, params)
    return prepared.images, [prepared.class_names[i] for i in prepared.labels], aspect


def detection_report(data: Path, dataset: str, params_file: Path = Path("params.yaml")) -> list[str]:
    """`handsign landmarks detect`: lines saying how often a hand is found in DATA."""
    from handsign.config import load_params

    settings = load_params(params_file).landmark_settings(dataset)
    images, classes, aspect = read_dataset(data, dataset, settings)
    found = detect_all(images, settings, find_model(), aspect)
    lines = [f"{data}: a hand in {found.found.sum()} of {len(images)} images ({found.found.mean():.1%})"]
    by_class: dict[str, list[bool]] = {}
    for name, hit in zip(classes, found.found, strict=True):
        by_class.setdefault(name, []).append(bool(hit))
    lines += [f"  {name}: {sum(h)}/{len(h)}" for name, h in by_class.items()]
    lines.append(f"  found by attempt: {found.found_by_attempt(len(settings.attempts))}")
    return lines
