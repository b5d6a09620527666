"""The typed settings that the layers below config and config itself share: how the hand
landmarker is shown an image (`landmarks.<dataset>`), what the synthetic renderer draws
(`synthetic:`), and the error a bad setting raises. handsign.config loads and checks them from
params.yaml; datasets, the renderer and the detector read them without importing the loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A params file that cannot drive the pipeline; the message names the key."""


@dataclass(frozen=True)
class Attempt:
    """One way of showing a greyscale image to the hand landmark detector (handsign.hands.landmarks)."""

    tint: tuple[float, ...]  # R, G, B multipliers of the grey value: skin-coloured greys
    margin: float  # padding on every side, as a fraction of the longer side, in the image's median grey
    size: int  # the longer side is resized to this many pixels first
    gamma: float = 1.0  # grey values (0..1) raised to this power: below 1 lightens dark hands
    mirror: bool = False  # shown mirrored left to right (the landmarks and handedness are mirrored back)


@dataclass(frozen=True)
class LandmarkParams:
    """`landmarks.<dataset>`: how the landmark stage reads a dataset and shows it to the detector."""

    image_size: int  # the dataset is read at this size, letterboxed (a hand keeps its shape)
    confidence: float  # the detector's minimum detection and presence scores
    attempts: tuple[Attempt, ...]  # tried in order until a hand is found
    # first: an image's hand is the first attempt's that finds one. every: every attempt is also run on
    # every image, and a landmark model trains on each attempt's reading of its training images (the
    # detector's own variation as augmentation); validation and test keep the first reading.
    readings: str = "first"
    # What the synthetic source (the demo) shows instead: keys of this entry (only `readings`), applied
    # by Params.landmark_settings. Not part of a setting's identity: hashing and equality ignore it.
    on_synthetic: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class SyntheticParams:
    seed: int
    per_class_train: int
    per_class_test: int
    subjects: int
    frames_per_gesture: int
