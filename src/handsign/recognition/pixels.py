"""A pixel classifier as its users call it: images in (any size, greyscale or colour), made like its
training images (resized, or first cut to the hand the landmarker finds: `hand_crop`), classified by
the network; class probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from handsign.data.preprocessing import Preprocessing, as_picture
from handsign.hands.handcrop import crop_to_hand
from handsign.hands.landmarks import MODEL_FILE, Detector, Landmarks, find_model
from handsign.models import Kind
from handsign.recognition.answers import Probabilities, answer_table


def refuse_autoencoder(network: nn.Module, name: str) -> None:
    """A clear error where a classifier is expected and `network` is an autoencoder."""
    from handsign.models.autoencoder import Autoencoder

    if isinstance(network, Autoencoder):
        raise ValueError(
            f"{name} is an autoencoder: it reconstructs images and has no classes to predict. Its encoder can start "
            "a classifier (model: encoder_mlp or encoder_conv, init: this model); see the README's Autoencoders section"
        )


class Classifier:
    """A trained pixel network plus its preprocessing; `probabilities` on any images. With the
    preprocessing's `hand_crop`, each image is first cut to the hand the landmarker finds in it."""

    input_name = "images"
    kind = Kind.PIXELS
    abstains = False  # always answers a class

    @property
    def members(self) -> list[Classifier]:
        return [self]

    def __init__(self, network: nn.Module, preprocessing: Preprocessing, detector_file: Path | None = None) -> None:
        refuse_autoencoder(network, "this model")
        self.model = Probabilities(network).eval()
        self.preprocessing = preprocessing
        self.detector_file = detector_file  # None: found where handsign.hands.landmarks.find_model looks
        self._detector: Detector | None = None

    @property
    def requirements(self) -> tuple[str, ...]:
        """Packages a served copy needs beyond torch, pillow and pandas: the landmarker's, to crop."""
        return ("mediapipe",) if self.preprocessing.hand_crop else ()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """What the network (and its exports) takes per image: uint8 values as float, 1 x S x S."""
        return (1, self.preprocessing.image_size, self.preprocessing.image_size)

    def files(self) -> dict[str, Path]:
        """What a served copy needs beside the network and its preprocessing: the hand landmarker
        where it crops to the hand, else nothing."""
        return {MODEL_FILE: self.detector_file or find_model(fetch=True)} if self.preprocessing.hand_crop else {}

    def crops(self, images: list[Image.Image | np.ndarray], found: Landmarks | None = None) -> list[np.ndarray]:
        """Each image cut to its hand, or whole where none is found: the hand in `found` (one row per
        image, found already: an ensemble's landmark model, the live tracker), else found here, in the
        image's own colours."""
        pictures = [as_picture(image) for image in images]
        if found is None:
            if self._detector is None:
                self._detector = Detector(self.preprocessing.hand_box, self.files()[MODEL_FILE])
            points = [self._detector.detect(p).image for p in pictures]
        else:
            points = list(found.image)
        return [crop_to_hand(p, hand, self.preprocessing.hand_crop) for p, hand in zip(pictures, points, strict=True)]

    def probabilities(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities, rows in the order of `images` (cut to their hands first, with hand_crop)."""
        return self.classify(self.crops(images) if self.preprocessing.hand_crop else images, batch_size)

    @torch.inference_mode()
    def classify(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities of images as the network reads them, already cut to the hand where
        it crops (`live` cuts a frame to the hand its tracker follows)."""
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([self.preprocessing.array(img) for img in images[start : start + batch_size]])
            out.append(self.model(torch.from_numpy(batch).float()).numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.preprocessing.class_names)), dtype=np.float32)

    def table(self, probabilities: np.ndarray) -> Any:
        return answer_table(probabilities, self.preprocessing.class_names)
