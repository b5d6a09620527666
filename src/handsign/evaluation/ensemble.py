"""Two classifiers that read different things, combined: a pixel model (the hand's shape and shading)
and a landmark model (its 21 joints). Trained on Sign MNIST alone, each recognises another signer's
webcam letters in its own way: about a third for the cropping CNN, a half for the landmark model, and
on different letters (docs/results.md). Their probabilities multiplied, a class must look likely to
both; on the real data that added 5-10 points over the landmark model alone while the CNN's near-100%
on its own test file held (one test: the ensemble is scored in the pipeline, `evaluate_ensemble`)."""

from __future__ import annotations

import numpy as np

FLOOR = 1e-6  # added to each probability before the log: a member's near-zero is a strong no, never a veto


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
