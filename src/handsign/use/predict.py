"""What `handsign predict` (and `live`, `export`) share: find a model by checkpoint path or MLflow
URI, find image files by path, folder or glob, and classify them, skipping the unreadable."""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handsign.core.imagefile import UnreadableImage, read_image
from handsign.datasets.images import SUFFIXES as IMAGE_SUFFIXES  # what a folder of your own images may hold
from handsign.models import MLFLOW_SCHEMES
from handsign.recognition.answers import labels
from handsign.recognition.inference import NO_HAND_LABEL
from handsign.recognition.loading import Ensemble, Recogniser, from_checkpoint, load_logged


def load_classifier(model: str, root: Path | None = None) -> Recogniser:
    """A checkpoint file (`models/<experiment>/model.pt`) or an MLflow model URI of ours
    (`models:/handsign-<experiment>-<source>@champion`, `runs:/<run id>/model`), read from the
    repository's MLflow store (or `MLFLOW_TRACKING_URI`). A pixel model or a landmark model."""
    if model.startswith(MLFLOW_SCHEMES):
        from handsign.core.layout import repo_root
        from handsign.tracking import store

        with store(root or repo_root()) as mlflow:
            import mlflow.artifacts

            try:
                local = Path(mlflow.artifacts.download_artifacts(model))
            except Exception as e:  # MlflowException, OSError: nothing by that name in this store
                raise ValueError(f"cannot load {model} from the MLflow store {mlflow.get_tracking_uri()} ({e})") from None
        return load_logged(local)
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (a checkpoint such as models/<experiment>/model.pt, or an MLflow URI)")
    return from_checkpoint(path)


def load_model(models: list[str], root: Path | None = None) -> Recogniser:
    """One model (`load_classifier`), or several of the same classes as an ensemble: `-m PIXEL -m LANDMARKS`."""
    members = [load_classifier(m, root) for m in models]
    return members[0] if len(members) == 1 else Ensemble(members)


def image_files(targets: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named by `targets` (files, folders searched recursively, globs), sorted within
    each target and without repeats; and the targets that matched nothing."""
    files: list[Path] = []
    missing: list[str] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(target, recursive=True) if Path(p).is_file())
        if not found:
            missing.append(target)
        files.extend(found)
    return list(dict.fromkeys(files)), missing


@dataclass
class Predictions:
    files: list[Path]
    probabilities: np.ndarray  # len(files) x classes
    class_names: list[str]
    errors: dict[str, str] = field(default_factory=dict)  # path -> why it was skipped

    def top(self, k: int) -> list[list[tuple[str, float]]]:
        """The `k` most probable classes of each file; a landmark model's `[("no hand", 0.0)]` where it found none."""
        order = np.argsort(-self.probabilities, axis=1)[:, :k]
        return [
            [(label, 0.0)] if label == NO_HAND_LABEL else [(self.class_names[j], float(p[j])) for j in row]
            for p, row, label in zip(self.probabilities, order, labels(self.probabilities, self.class_names), strict=True)
        ]

    def to_json(self, k: int) -> str:
        rows = [
            {"path": str(f), "top": [{"label": name, "probability": round(p, 6)} for name, p in top]}
            for f, top in zip(self.files, self.top(k), strict=True)
        ]
        return json.dumps({"predictions": rows, "errors": self.errors}, indent=2)

    def to_table(self, k: int) -> str:
        width = max([len(str(f)) for f in self.files] + [4])
        head = f"{'path':{width}}  " + "  ".join(f"{'top ' + str(i + 1):>14}" for i in range(k))
        lines = [head]
        for f, top in zip(self.files, self.top(k), strict=True):
            cells = [f"{name:>14}" if name == NO_HAND_LABEL else f"{name:>7} {p:6.1%}" for name, p in top]
            lines.append(f"{str(f):{width}}  " + "  ".join(cells))
        return "\n".join(lines)


def predict_files(classifier: Recogniser, files: list[Path]) -> Predictions:
    images, kept, errors = [], [], {}
    for f in files:
        try:
            images.append(read_image(f))  # in colour: a landmark model's detector needs it
            kept.append(f)
        except UnreadableImage as e:
            errors[str(f)] = str(e).removeprefix(f"{f}: ")
    return Predictions(kept, classifier.probabilities(images), classifier.preprocessing.class_names, errors)
