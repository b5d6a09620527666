"""A recogniser scored on the external sets of its dataset (handsign.data.external builds them):
what each model reads of a set, its scores there, the files they are written to and the
carry-over table that `handsign results` prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from handsign.core.atomic import atomic_path, write_json
from handsign.core.layout import ExperimentPaths
from handsign.data.externalsets import LANDMARKS, ExternalSet
from handsign.evaluation.report import classification_metrics, plot_confusion_matrix
from handsign.hands import handfeatures
from handsign.models import Kind
from handsign.recognition.checkpoint import Checkpoint
from handsign.recognition.inference import hand_found_scores, names_of


@dataclass
class Scored:
    """One model on one set."""

    summary: dict[str, float]
    per_class: dict[str, float]  # accuracy per class present in the set
    predictions: pd.DataFrame  # file, actual, predicted
    y_true: np.ndarray
    y_pred: np.ndarray
    class_names: list[str]


def model_inputs(s: ExternalSet, checkpoint: Checkpoint) -> np.ndarray | str:
    """What the classifier of `checkpoint` reads of the set: a landmark model the rows of the hands
    the external stage found in it in colour, a pixel model the images made grey and resized as its
    training images were (with hand_crop, cut first to the hand found). Where the hands it needs
    were never looked for, the reason, as a string."""
    landmark = checkpoint.kind is Kind.LANDMARKS
    prep = checkpoint.preprocessing
    if (landmark or prep.hand_crop) and not (s.folder / LANDMARKS).exists():
        return f"no hands were looked for in it (no landmarks.{s.info['dataset']} settings)"
    if landmark:
        return handfeatures.features(s.landmarks(), s.aspects)
    return np.stack([prep.array(picture) for picture in s.pictures(prep.hand_crop)])


def score(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], files: list[str], abstains: bool) -> Scored:
    """Accuracy, macro F1 over the classes the set holds, per-class accuracy and, where the answers
    may be "no hand" (`abstains`: a landmark model alone), how often a hand was found and the accuracy
    on those."""
    summary, report = classification_metrics(y_true, y_pred, class_names)
    present = [class_names[k] for k in np.unique(y_true)]
    result = {
        "accuracy": summary["accuracy"],
        "f1_macro": float(np.mean([report[c]["f1-score"] for c in present])),
        "n_test": summary["n_test"],
    }
    if abstains:
        result.update(hand_found_scores(y_true, y_pred))
    per_class = {c: report[c]["recall"] for c in present}
    predictions = pd.DataFrame({"file": files, "actual": [class_names[i] for i in y_true],
                                "predicted": names_of(class_names, y_pred)})  # fmt: skip
    return Scored(result, per_class, predictions, y_true, y_pred, class_names)


def write_scores(paths: ExperimentPaths, scored: dict[str, Scored], skipped: dict[str, str], title: str) -> None:
    """reports/<experiment>/external.json (every set's summary: a DVC metric) and external/<set>/
    (per_class.json, predictions.csv, confusion_matrix.png), with skipped.json: the sets not scored, why."""
    write_json(paths.external_metrics, {name: s.summary for name, s in scored.items()})
    with atomic_path(paths.external) as tmp:
        tmp.mkdir()
        write_json(tmp / "skipped.json", skipped)
        for name, s in scored.items():
            (tmp / name).mkdir()
            write_json(tmp / name / "per_class.json", s.per_class)
            s.predictions.to_csv(tmp / name / "predictions.csv", index=False)
            plot_confusion_matrix(s.y_true, s.y_pred, s.class_names, tmp / name / "confusion_matrix.png",
                                  f"{title} on {name}\naccuracy {s.summary['accuracy']:.4f}")  # fmt: skip


def run_metrics(paths: ExperimentPaths, summary: dict, scored: dict[str, Scored]) -> tuple[dict[str, float], list[Path]]:
    """What a run logs of its scores: the test metrics as `test_<key>` and each set's as `<set>_<key>`,
    and the files `write_scores` wrote."""
    logged = {f"test_{k}": v for k, v in summary.items()}
    logged.update({f"{name}_{k}": v for name, s in scored.items() for k, v in s.summary.items()})
    return logged, [f for f in sorted(paths.external.rglob("*")) if f.is_file()]


def carry_over_table(reports: Path, experiments: list[tuple[str, str]]) -> str:
    """Markdown: each classifier's accuracy on its own test split against each external set of its
    dataset (a landmark model's share of hands found in brackets); `experiments` is (name, dataset)."""
    lines = []
    for dataset in dict.fromkeys(d for _, d in experiments):
        rows = []
        for name, d in experiments:
            metrics, ext = reports / name / "metrics.json", reports / name / "external.json"
            if d != dataset or not metrics.exists() or "accuracy" not in (m := json.loads(metrics.read_text())):
                continue
            rows.append((name, m["accuracy"], json.loads(ext.read_text()) if ext.exists() else {}))
        sets = sorted({s for _, _, e in rows for s in e})
        if not rows:
            continue
        lines += ["", f"| {dataset} | own test split | " + " | ".join(sets) + " |", "|---" * (len(sets) + 2) + "|"]
        for name, acc, ext in rows:
            cells = [_cell(ext[s]) if s in ext else "-" for s in sets]
            lines.append(f"| `{name}` | {acc:.2%} | " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n")


def _cell(summary: dict) -> str:
    found = f" (hand {summary['hand_found']:.0%})" if "hand_found" in summary else ""
    return f"{summary['accuracy']:.2%}{found}"
