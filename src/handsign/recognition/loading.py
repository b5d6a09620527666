"""The recogniser of a train-stage checkpoint or of a model folder logged to MLflow, built by its
kind (handsign.recognition's interface)."""

from __future__ import annotations

import json
from pathlib import Path

from handsign.hands.landmarks import MODEL_FILE
from handsign.models import Kind
from handsign.recognition.checkpoint import Checkpoint
from handsign.recognition.ensemble import Ensemble
from handsign.recognition.landmarks import HandClassifier
from handsign.recognition.pixels import Classifier, refuse_autoencoder
from handsign.tracking import ENSEMBLE_FILE, checkpoint_in

Recogniser = Classifier | HandClassifier | Ensemble


def classifier_for(checkpoint: Checkpoint, name: str, folder: Path | None = None) -> Classifier | HandClassifier:
    """The classifier of a checkpoint (`name`: where it came from, for errors), by its kind: a landmark
    model finds hands first, a pixel model resizes (cut to the hand first, with hand_crop); an
    autoencoder is refused. `folder` may hold the hand landmarker, as a served copy does."""
    network = checkpoint.network()
    refuse_autoencoder(network, name)
    detector = folder / MODEL_FILE if folder is not None and (folder / MODEL_FILE).is_file() else None
    if checkpoint.kind is Kind.LANDMARKS:
        return HandClassifier(network, checkpoint.preprocessing, detector)
    return Classifier(network, checkpoint.preprocessing, detector)


def from_checkpoint(path: Path, resize: str | None = None) -> Classifier | HandClassifier:
    """The classifier of a train-stage checkpoint (`models/<experiment>/model.pt`)."""
    return classifier_for(Checkpoint.read(Path(path), resize=resize), str(path))


def load_logged(local: Path) -> Classifier | HandClassifier | Ensemble:
    """The classifier of a model folder that `log_served_model` (or `log_served_ensemble`) wrote,
    downloaded from MLflow: each checkpoint's tensors (`torch.load(weights_only=True)`: no object is
    unpickled), the network built by name from handsign's registry, the preprocessing saved with it."""
    manifest = local / "data" / ENSEMBLE_FILE
    if not manifest.is_file():
        return _logged_classifier(checkpoint_in(local), local)
    listed = json.loads(manifest.read_text())
    names, weights = listed.get("members", []), listed.get("weights")
    if not names or any(not isinstance(n, str) or Path(n).name != n or n in ("", ".", "..") for n in names):
        raise ValueError(f"{manifest}: `members` must name checkpoint files in data/, not {names!r}")
    if weights is not None and (not isinstance(weights, list) or not all(isinstance(w, int | float) for w in weights)):
        raise ValueError(f"{manifest}: `weights` must be numbers, one per member, not {weights!r}")
    return Ensemble([_logged_classifier(local / "data" / name, local) for name in names], weights)


def _logged_classifier(checkpoint: Path, local: Path) -> Classifier | HandClassifier:
    return classifier_for(Checkpoint.read(checkpoint), str(local), local / "data")


__all__ = ["Classifier", "Ensemble", "HandClassifier", "Recogniser", "classifier_for", "from_checkpoint", "load_logged"]
