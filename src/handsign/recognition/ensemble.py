"""Two classifiers that read different things, combined: a pixel model (the hand's shape and shading)
and a landmark model (its 21 joints). Trained on Sign MNIST alone, each recognises another signer's
webcam letters in its own way, and on different letters: the cropping CNN about a third, the landmark
model about a half. Their probabilities multiplied, a class must look likely to both: 66.87% of those
letters, with 99.36% on the Kaggle test file (docs/results.md; the evaluate_ensemble stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from handsign.hands.landmarks import Landmarks
from handsign.models import Kind
from handsign.recognition.answers import answer_table
from handsign.recognition.landmarks import HandClassifier
from handsign.recognition.pixels import Classifier

FLOOR = 1e-6  # added to each probability before the log: a member's zero is a strong no, not minus infinity


def combine(members: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """The members' probabilities (each N x classes), each raised to its weight (1 unless given),
    multiplied and renormalised per row. A member's row of zeros (a landmark model that found no hand)
    abstains: the others decide that row; a row where every member abstains stays zeros, as a landmark
    model answers "no hand". A member of weight 0 takes no part: the others answer as they would alone."""
    weights = checked_weights(weights, len(members))
    logs = np.zeros(members[0].shape, dtype=np.float64)
    answered = np.zeros(len(logs), dtype=bool)
    for p, w in zip(members, weights, strict=True):
        if w == 0:
            continue
        present = p.sum(1) > 0
        logs[present] += w * np.log(p[present].astype(np.float64) + FLOOR)
        answered |= present
    logs -= logs.max(1, keepdims=True)
    out = np.exp(logs)
    out /= out.sum(1, keepdims=True)
    out[~answered] = 0.0
    return out.astype(np.float32)


def checked_weights(weights: list[float] | None, n: int) -> list[float]:
    """One weight per member (all 1 when None), each 0 or more, not all 0."""
    weights = [1.0] * n if weights is None else [float(w) for w in weights]
    if len(weights) != n or any(not w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"an ensemble's weights are one per member ({n}), 0 or more, not all 0: {weights}")
    return weights


def answers(probabilities: np.ndarray, no_answer: int) -> np.ndarray:
    """The most probable class of each row; `no_answer` where a row is all zeros."""
    return np.where(probabilities.sum(1) > 0, probabilities.argmax(1), no_answer)


class Ensemble:
    """Classifiers of the same classes answering together, their probabilities multiplied
    (`combine`: a landmark model that finds no hand abstains), as the
    evaluate_ensemble stage scores them. `handsign predict -m PIXEL -m LANDMARKS`, `live` with both,
    and the MLflow model the stage logs and registers (`log_served_ensemble`) all answer through it."""

    def __init__(self, members: list[Classifier | HandClassifier], weights: list[float] | None = None) -> None:
        names = [m.preprocessing.class_names for m in members]
        if any(n != names[0] for n in names):
            raise ValueError(f"an ensemble's models must answer the same classes, not {' and '.join(map(str, names))}")
        self.members = members
        self.weights = checked_weights(weights, len(members))
        # "No hand" only where every member that takes part may say so.
        self.abstains = all(m.abstains for m, w in zip(members, self.weights, strict=True) if w)
        self.preprocessing = members[0].preprocessing  # its class_names: what the answers are called

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for m in self.members for r in m.requirements))

    def files(self) -> dict[str, Path]:
        """What a served copy needs beside the networks: the hand landmarker, once."""
        return {name: path for m in self.members for name, path in m.files().items()}

    def probabilities(self, images: list[Image.Image | np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, len(self.preprocessing.class_names)), dtype=np.float32)
        hands = self._finder()
        if hands is None:
            return combine([m.probabilities(images) for m in self.members], self.weights)
        # One detection per image for all: the cropping pixel models would find the same hand again.
        return self.given_hands(images, *hands.hands(images))

    def given_hands(self, images: list[Image.Image | np.ndarray], found: Landmarks, aspect: float | np.ndarray) -> np.ndarray:
        """The members' probabilities multiplied, the hand in each image found already (`found`, one row
        per image; `aspect`: width / height): the landmark model classifies it, a cropping pixel model
        reads its square, another pixel model the image as it is."""
        answers = []
        for m in self.members:
            if m.kind is Kind.LANDMARKS:
                answers.append(m.classify(found, aspect))
            elif m.preprocessing.hand_crop:
                answers.append(m.classify(m.crops(images, found)))
            else:
                answers.append(m.probabilities(images))
        return combine(answers, self.weights)

    def _finder(self) -> HandClassifier | None:
        """The landmark member whose detector settings every cropping pixel member shares (as the
        pipeline's do: both are landmarks.<dataset>), else None."""
        hands = [m for m in self.members if m.kind is Kind.LANDMARKS]
        croppers = [m for m in self.members if m.kind is Kind.PIXELS and m.preprocessing.hand_crop]
        if len(hands) != 1 or not croppers or any(m.preprocessing.hand_box != hands[0].preprocessing.landmarks for m in croppers):
            return None
        return hands[0]

    def table(self, probabilities: np.ndarray) -> Any:
        return answer_table(probabilities, self.preprocessing.class_names)
