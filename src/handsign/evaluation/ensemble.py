"""Two classifiers that read different things, combined: a pixel model (the hand's shape and shading)
and a landmark model (its 21 joints). Trained on Sign MNIST alone, each recognises another signer's
webcam letters in its own way, and on different letters: the cropping CNN about a third, the landmark
model about a half. Their probabilities multiplied, a class must look likely to both: 66.87% of those
letters, with 99.36% on the Kaggle test file (docs/results.md; the evaluate_ensemble stage)."""

from __future__ import annotations

import numpy as np

FLOOR = 1e-6  # added to each probability before the log: a member's zero is a strong no, not minus infinity


def combine(members: list[np.ndarray]) -> np.ndarray:
    """The members' probabilities (each N x classes) multiplied and renormalised per row. A member's row
    of zeros (a landmark model that found no hand) abstains: the others decide that row; a row where
    every member abstains stays zeros, as a landmark model answers "no hand"."""
    logs = np.zeros(members[0].shape, dtype=np.float64)
    answered = np.zeros(len(logs), dtype=bool)
    for p in members:
        present = p.sum(1) > 0
        logs[present] += np.log(p[present].astype(np.float64) + FLOOR)
        answered |= present
    logs -= logs.max(1, keepdims=True)
    out = np.exp(logs)
    out /= out.sum(1, keepdims=True)
    out[~answered] = 0.0
    return out.astype(np.float32)


def answers(probabilities: np.ndarray, no_answer: int) -> np.ndarray:
    """The most probable class of each row; `no_answer` where a row is all zeros."""
    return np.where(probabilities.sum(1) > 0, probabilities.argmax(1), no_answer)
