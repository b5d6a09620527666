"""Test-set metrics and the figures a person reads: training curves and the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

from handsign.atomic import atomic_path


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[dict, dict]:
    """(summary metrics, per-class report) over all classes, absent ones included."""
    labels = list(range(len(class_names)))
    p, r, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    summary = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(p),
        "recall_macro": float(r),
        "f1_macro": float(f1),
        "n_test": int(len(y_true)),
    }
    per_class = classification_report(y_true, y_pred, labels=labels, target_names=class_names, output_dict=True, zero_division=0)
    return summary, per_class


def per_group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> dict[str, dict]:
    """Test accuracy per subject (LeapGestRecog) or hand (Fingers); empty where the dataset has no groups."""
    out = {}
    for g in sorted(set(groups.tolist()) - {""}):
        hit = groups == g
        out[str(g)] = {"n": int(hit.sum()), "accuracy": float((y_true[hit] == y_pred[hit]).mean())}
    return out


def group_summary(per_group: dict[str, dict]) -> dict[str, float]:
    """The worst group's accuracy and the spread between groups (nothing where there are no groups)."""
    if not per_group:
        return {}
    accuracies = [g["accuracy"] for g in per_group.values()]
    return {"group_accuracy_min": min(accuracies), "group_accuracy_std": float(np.std(accuracies))}


def write_curves(history: pd.DataFrame, folder: Path) -> None:
    """One long-format CSV per metric the loop reported (`epoch,curve,loss` with curve = train |
    validation), so DVC's `curves` template draws both curves of one metric in one plot."""
    metrics = [c.removeprefix("train_") for c in history.columns if c.startswith("train_") and f"val_{c[6:]}" in history]
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for m in metrics:
            long = pd.concat([
                pd.DataFrame({"epoch": history["epoch"], "curve": curve, m: history[f"{prefix}_{m}"]})
                for curve, prefix in (("train", "train"), ("validation", "val"))
            ])  # fmt: skip
            long.to_csv(tmp / f"{m}.csv", index=False)


def _pyplot():
    """matplotlib, headless; imported on first use because it is slow to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)


def plot_training_curves(history: pd.DataFrame, path: Path, title: str) -> None:
    fig, (ax_loss, ax_acc) = _pyplot().subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(history["epoch"], history["train_loss"], "o-", label="train")
    ax_loss.plot(history["epoch"], history["val_loss"], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(history["epoch"], history["train_acc"], "o-", label="train")
    ax_acc.plot(history["epoch"], history["val_acc"], "o-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save_figure(fig, path)


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(class_names))))
    n = len(class_names)
    fig, ax = _pyplot().subplots(figsize=(max(5, 0.4 * n + 2), max(4.5, 0.4 * n + 1.5)))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=90 if n > 12 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if cm[i, j] > threshold else "black"
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    _save_figure(fig, path)


def plot_per_group(per_group: dict[str, dict], path: Path, title: str, what: str) -> None:
    """One bar per subject (or hand): who the model fails on, which a pooled accuracy hides."""
    names = list(per_group)
    fig, ax = _pyplot().subplots(figsize=(max(4, 0.5 * len(names) + 2), 3.5))
    ax.bar(names, [per_group[g]["accuracy"] for g in names], color="tab:blue")
    for i, g in enumerate(names):
        label = f"{per_group[g]['accuracy']:.2f}\nn={per_group[g]['n']}"
        ax.text(i, per_group[g]["accuracy"], label, ha="center", va="bottom", fontsize=7)
    ax.set(xlabel=what, ylabel="test accuracy", ylim=(0, 1.15), title=title)
    ax.grid(alpha=0.3, axis="y")
    _save_figure(fig, path)
