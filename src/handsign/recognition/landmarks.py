"""A hand-landmark model as its users call it: images in, MediaPipe's hand landmarker finds the hand
as the training data's hands were found (the settings travel with the model), handsign.hands.handfeatures
makes the 21 points a row, the network classifies it.

The landmark counterpart of `pixels.Classifier`, with the same `probabilities` and `table`, so
`handsign predict`, the served MLflow model, `live` and `export` take either. An image in which no
hand is found gets a row of zeros, which the answers call "no hand".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from handsign.data.preprocessing import HandPreprocessing, as_picture
from handsign.hands.handfeatures import WIDTH, features
from handsign.hands.landmarks import MODEL_FILE, Detector, Landmarks, find_model
from handsign.models import Kind
from handsign.recognition.answers import Probabilities, answer_table


class HandClassifier:
    """A trained landmark network plus how to find hands; `probabilities` on any images."""

    input_shape = (WIDTH,)  # what the network (and its ONNX export) takes: one handfeatures row per hand
    input_name = "landmarks"
    requirements = ("mediapipe",)
    kind = Kind.LANDMARKS
    abstains = True  # "no hand" where none is found

    @property
    def members(self) -> list[HandClassifier]:
        return [self]

    def __init__(self, network: nn.Module, preprocessing: HandPreprocessing, detector_file: Path | None = None) -> None:
        self.model = Probabilities(network).eval()
        self.preprocessing = preprocessing
        self.detector_file = detector_file  # None: found where handsign.hands.landmarks.find_model looks
        self._detector: Detector | None = None

    def files(self) -> dict[str, Path]:
        """What a served copy needs beside the network: the hand landmarker."""
        return {MODEL_FILE: self.detector_file or find_model(fetch=True)}

    def hands(self, images: list[Image.Image | np.ndarray]) -> tuple[Landmarks, np.ndarray]:
        """The hand in each image, and each image's width / height. A colour image is shown to the
        detector in colour; a greyscale one (the datasets' own) as its training images were."""
        pictures = [as_picture(image) for image in images]
        if self._detector is None:
            self._detector = Detector(self.preprocessing.landmarks, self.files()[MODEL_FILE])
        found = Landmarks.of([self._detector.detect(p) for p in pictures])
        return found, np.array([p.shape[1] / p.shape[0] for p in pictures])

    @torch.inference_mode()
    def classify(self, found: Landmarks, aspect: float | np.ndarray) -> np.ndarray:
        """N x classes probabilities of found hands; a row of zeros where there is none."""
        rows = torch.from_numpy(features(found, aspect))
        hand = rows.isfinite().all(1)
        out = torch.zeros(len(rows), len(self.preprocessing.class_names))
        if hand.any():
            out[hand] = self.model(rows[hand])
        return out.numpy()

    def probabilities(self, images: list[Image.Image | np.ndarray], batch_size: int = 64) -> np.ndarray:
        """N x classes probabilities, rows in the order of `images`; zeros where no hand was found."""
        if not len(images):
            return np.zeros((0, len(self.preprocessing.class_names)), dtype=np.float32)
        return self.classify(*self.hands(images))

    def tracker(self) -> Detector:
        """A detector that follows the hand through a colour video's frames (`live`)."""
        return Detector(self.preprocessing.landmarks, self.files()[MODEL_FILE], video=True)

    def table(self, probabilities: np.ndarray) -> Any:
        return answer_table(probabilities, self.preprocessing.class_names)
