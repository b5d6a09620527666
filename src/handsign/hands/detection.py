"""Hands in a dataset archive or folder: `handsign landmarks detect` (how often the landmarks
stage's settings find a hand there: tuning them on real photographs, ../shared/data/'s samples)
and `handsign score` of a landmark model share the reading and the detection."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from handsign.core.schema import LandmarkParams
from handsign.hands.landmarks import Landmarks, detect_all, find_model, read_for_landmarks

if TYPE_CHECKING:
    from handsign.datasets import Prepared


def detect_dataset(data: Path, dataset: str, settings: LandmarkParams) -> tuple[Prepared, Landmarks, float]:
    """DATA read as the landmarks stage reads a download, and the hand in each image: (the images
    as read, their landmarks, the frames' width / height)."""
    from handsign.core.archives import unpacked

    with unpacked(data) as raw:
        prepared, aspect = read_for_landmarks(raw, dataset, settings)
    found = detect_all(prepared.images, settings, find_model(fetch=True), aspect, progress=f"landmarks {dataset}")
    return prepared, found, aspect


def detection_report(data: Path, dataset: str, settings: LandmarkParams) -> list[str]:
    """`handsign landmarks detect`: lines saying how often a hand is found in DATA with `settings`."""
    prepared, found, _ = detect_dataset(data, dataset, settings)
    lines = [f"{data}: a hand in {found.found.sum()} of {len(found.found)} images ({found.found.mean():.1%})"]
    by_class: dict[str, list[bool]] = {}
    for label, hit in zip(prepared.labels, found.found, strict=True):
        by_class.setdefault(prepared.class_names[label], []).append(bool(hit))
    lines += [f"  {name}: {sum(h)}/{len(h)}" for name, h in by_class.items()]
    lines.append(f"  found by attempt: {found.found_by_attempt(len(settings.attempts))}")
    return lines
