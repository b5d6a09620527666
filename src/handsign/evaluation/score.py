"""`handsign score`: a trained checkpoint on another copy of its dataset (a Kaggle archive or its
folder), read as prepare reads it and made square as the model's training data was. A landmark
model's images go through the hand landmarker first, shown to it as its training images were (the
settings its checkpoint carries)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handsign.core.archives import unpacked
from handsign.datasets import get_spec
from handsign.evaluation.report import classification_metrics
from handsign.hands import handfeatures
from handsign.hands.detection import detect_dataset
from handsign.models import Kind
from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.inference import hand_found_scores, predict

# Fingers' L and R: an L hand shows its palm with the thumb on the image's left (135 of the 137
# detected L photos of the real sample), an R hand on the right. Read off the landmarks (the thumb's
# base, point 2, left of the little finger's, point 17), not off MediaPipe's handedness label, which
# disagrees with the labels on a third of the rendered hands.
THUMB_BASE, LITTLE_BASE = 2, 17


def score_checkpoint(checkpoint: Path, data: Path, dataset: str, split: str = "test") -> dict:
    """Accuracy, precision, recall and F1 of `checkpoint` on DATA's official `split` (test | train | all);
    for a landmark model also how often a hand was found and, on Fingers, the count and hand together
    (12 classes: the count from the model, the hand from the detector)."""
    model, ckpt = load_checkpoint(checkpoint)
    preprocessing = ckpt.preprocessing
    landmark = ckpt.kind is Kind.LANDMARKS
    if landmark:
        prepared, found, aspect = detect_dataset(data, dataset, preprocessing.landmarks)
        rows, points = handfeatures.features(found, aspect), found.image
    else:
        with unpacked(data) as raw:
            prepared = get_spec(dataset).read(raw, preprocessing.image_size, preprocessing.resize)
        rows, points = prepared.images, None
    if prepared.class_names != ckpt.class_names:
        raise ValueError(f"{checkpoint} was trained on classes {ckpt.class_names}, {data} has {prepared.class_names}")
    chosen = np.arange(len(prepared.labels))
    if split != "all":
        chosen = np.flatnonzero(np.asarray(prepared.official_splits) == split)
        if chosen.size == 0:
            raise ValueError(f"{data} has no official {split} part; use --split all")
    y_true, y_pred = prepared.labels[chosen], predict(model, rows, chosen)
    summary, _ = classification_metrics(y_true, y_pred, prepared.class_names)
    if landmark:
        summary.update(hand_found_scores(y_true, y_pred))
        if points is not None and dataset == "fingers":
            left = points[chosen, THUMB_BASE, 0] < points[chosen, LITTLE_BASE, 0]  # False where no hand (NaN)
            is_left = np.asarray(prepared.groups)[chosen] == "L"
            summary["accuracy_count_and_hand"] = float(((y_pred == y_true) & (left == is_left)).mean())
    return summary


def score_external_folder(checkpoint: Path, data: Path, classes: dict[str, str]) -> dict:
    """Accuracy, macro F1 over the classes present and per-class accuracy of `checkpoint` on a folder or
    zip of `<class>/<image>` files from elsewhere (handsign.data.external's layout; `classes` maps folder
    names to class names where they differ), each image used as `handsign predict` uses it."""
    from handsign.core.imagefile import read_image
    from handsign.data.external import class_of, labelled_files
    from handsign.evaluation.external import score
    from handsign.recognition.batches import probabilities_in_batches
    from handsign.recognition.ensemble import answers
    from handsign.recognition.inference import NO_HAND
    from handsign.recognition.loading import from_checkpoint

    found = list(labelled_files(data))  # the archive read (and refused, if need be) before the model loads
    if not found:
        raise ValueError(f"{data}: no image files laid out <class>/<image>")
    classifier = from_checkpoint(checkpoint)
    names = classifier.preprocessing.class_names
    files = [rel for rel, _ in found]
    labels = [names.index(class_of(Path(rel).parent.name, names, classes, f"{data}/{rel}")) for rel in files]
    probabilities = probabilities_in_batches(classifier, (read_image(blob, f"{data}/{rel}") for rel, blob in found))
    y_pred = answers(probabilities, NO_HAND)  # a landmark model's zeros: no hand
    scored = score(np.array(labels), y_pred, names, files, classifier.abstains)
    return {**scored.summary, "per_class_accuracy": scored.per_class}
