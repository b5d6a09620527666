"""What `handsign predict` (and `live`, `export`) share: find a model by checkpoint path or MLflow
URI, find image files by path, folder or glob, and classify them, skipping the unreadable.

Memory stays flat whatever the number of images: files are decoded and classified in batches of
at most `BATCH_PIXELS` decoded pixels, and an image over `MAX_PIXELS` is refused before it is
decoded (both settable). Folder walks and `**` globs never follow a link to a folder, so a link
loop neither hangs them nor answers an image twice; hidden files and macOS `._` forks are left out."""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handsign.core.imagefile import UnreadableImage, read_image
from handsign.datasets.images import SUFFIXES as IMAGE_SUFFIXES  # what a folder of your own images may hold
from handsign.models import MLFLOW_SCHEMES
from handsign.recognition.answers import labels
from handsign.recognition.batches import BATCH_PIXELS, MAX_PIXELS, probabilities_in_batches
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



def image_files(targets: list[str]) -> tuple[list[Path], dict[str, str]]:
    """Image files named by `targets` (files, folders searched recursively, globs), sorted within
    each target and without repeats; and the targets that gave none, each with why."""
    files: list[Path] = []
    missing: dict[str, str] = {}
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if _wanted(p.relative_to(path)) and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            found = sorted(p for p in _glob(target) if p.is_file() and _wanted(Path(p.name)))
        if not found:
            missing[target] = "a folder with no image files in it" if path.is_dir() else "no such file, folder or match"
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


def _wanted(path: Path) -> bool:
    """An image file's name, not a hidden file's or a macOS resource fork's (`._x.jpg`, __MACOSX/)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not any(p.startswith((".", "__MACOSX")) for p in path.parts if p != "..")


def _glob(pattern: str) -> list[Path]:
    """The paths `pattern` matches (`**` any depth), found by pathlib, which never follows a link to
    a folder (glob.glob(recursive=True) does, and a link loop never ends)."""
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    if first == len(parts):
        return []
    root = Path(*parts[:first]) if first else Path()
    return list(root.glob(str(Path(*parts[first:]))))


def predict_files(classifier: Recogniser, files: list[Path], max_pixels: int = MAX_PIXELS, batch_pixels: int = BATCH_PIXELS,
                  progress: Callable[[int, int], None] | None = None) -> Predictions:  # fmt: skip
    """Classify `files`, decoded (in colour: a landmark model's detector needs it) and classified a
    batch of at most `batch_pixels` decoded pixels at a time; a file that cannot be read, or holds
    more than `max_pixels` pixels, is skipped with the reason. `progress(done, total)` after each batch."""
    kept: list[Path] = []
    errors: dict[str, str] = {}

    def decoded() -> Iterator[np.ndarray]:
        for f in files:
            try:
                image = read_image(f, max_pixels=max_pixels)
            except UnreadableImage as e:
                errors[str(f)] = str(e).removeprefix(f"{f}: ")
                continue
            kept.append(f)
            yield image

    report = None if progress is None else (lambda done: progress(len(kept) + len(errors), len(files)))
    probabilities = probabilities_in_batches(classifier, decoded(), batch_pixels, report)
    return Predictions(kept, probabilities, classifier.preprocessing.class_names, errors)
