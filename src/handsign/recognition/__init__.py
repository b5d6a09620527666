"""Recognisers: what predict, the served model, live, evaluate, the external sets and `handsign score`
call to turn images into class probabilities. Three kinds stand behind one interface
(`probabilities(images)`, `table(probabilities)`, `preprocessing.class_names`, `files()`,
`requirements`): a pixel classifier (`pixels.Classifier`), a hand-landmark classifier
(`landmarks.HandClassifier`) and an ensemble of either (`ensemble.Ensemble`). `from_checkpoint` and
`load_logged` build the right one from a train-stage checkpoint or a logged MLflow model."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from handsign.data.preprocessing import HandPreprocessing, Preprocessing, saved
from handsign.hands.landmarks import MODEL_FILE
from handsign.recognition.ensemble import Ensemble
from handsign.recognition.inference import load_checkpoint
from handsign.recognition.landmarks import HandClassifier
from handsign.recognition.pixels import Classifier, refuse_autoencoder
from handsign.tracking import ENSEMBLE_FILE, checkpoint_in

Recogniser = Classifier | HandClassifier | Ensemble


def classifier_for(network: nn.Module, preprocessing: Preprocessing | HandPreprocessing,
                   folder: Path | None = None) -> Classifier | HandClassifier:  # fmt: skip
    """The classifier of a network and its preprocessing: a landmark model finds hands first, a pixel
    model resizes (cut to the hand first, with hand_crop); `folder` may hold the hand landmarker, as a
    served copy does."""
    detector = folder / MODEL_FILE if folder is not None and (folder / MODEL_FILE).is_file() else None
    if isinstance(preprocessing, HandPreprocessing):
        return HandClassifier(network, preprocessing, detector)
    return Classifier(network, preprocessing, detector)


def from_checkpoint(path: Path, resize: str | None = None) -> Classifier | HandClassifier:
    """The classifier of a train-stage checkpoint (`models/<experiment>/model.pt`)."""
    network, checkpoint = load_checkpoint(Path(path))
    refuse_autoencoder(network, str(path))
    return classifier_for(network, saved(checkpoint, path, resize))


def load_logged(local: Path) -> Classifier | HandClassifier | Ensemble:
    """The classifier of a model folder that `log_served_model` (or `log_served_ensemble`) wrote,
    downloaded from MLflow: each checkpoint's tensors (`torch.load(weights_only=True)`: no object is
    unpickled), the network built by name from handsign's registry, the preprocessing saved with it."""
    manifest = local / "data" / ENSEMBLE_FILE
    if not manifest.is_file():
        return _logged_classifier(checkpoint_in(local), local)
    names = json.loads(manifest.read_text()).get("members", [])
    if not names or any(not isinstance(n, str) or Path(n).name != n or n in ("", ".", "..") for n in names):
        raise ValueError(f"{manifest}: `members` must name checkpoint files in data/, not {names!r}")
    return Ensemble([_logged_classifier(local / "data" / name, local) for name in names])


def _logged_classifier(checkpoint: Path, local: Path) -> Classifier | HandClassifier:
    network, contents = load_checkpoint(checkpoint)
    refuse_autoencoder(network, str(local))
    return classifier_for(network, saved(contents, checkpoint), local / "data")


__all__ = ["Classifier", "Ensemble", "HandClassifier", "Recogniser", "classifier_for", "from_checkpoint", "load_logged"]
