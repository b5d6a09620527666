"""Test-set metrics and the figures a person reads: training curves, the confusion matrix, and
for an autoencoder its reconstructions, its embedding map and its most anomalous images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from handsign.core.atomic import atomic_path, write_json

if TYPE_CHECKING:
    from handsign.core.layout import ExperimentPaths


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[dict, dict]:
    """(summary metrics, per-class report) over all classes, absent ones included: scikit-learn's
    `precision_recall_fscore_support` and `classification_report(output_dict=True)` with
    `zero_division=0`, computed here from the confusion matrix (importing scikit-learn cost every
    evaluate stage 2 s). A prediction outside the classes (a landmark model's "no hand") is an
    error for its true class and counts for no class's precision."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(class_names)
    cm = confusion_matrix(y_true, y_pred, n)
    tp = np.diag(cm).astype(np.float64)
    support = np.bincount(y_true[(y_true >= 0) & (y_true < n)], minlength=n).astype(np.float64)  # "no hand" included
    predicted = cm.sum(0).astype(np.float64)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)
    summary = {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "n_test": int(len(y_true)),
    }
    per_class = {name: _row(precision[k], recall[k], f1[k], support[k]) for k, name in enumerate(class_names)}
    p_micro, r_micro = _divide(tp.sum(), predicted.sum()), _divide(tp.sum(), support.sum())
    total = support.sum()
    if set(np.unique(np.concatenate([y_true, y_pred])).tolist()) <= set(range(n)):
        per_class["accuracy"] = float(p_micro)  # micro averages are the accuracy when every prediction is a class
    else:
        per_class["micro avg"] = _row(p_micro, r_micro, _divide(2 * tp.sum(), support.sum() + predicted.sum()), total)
    per_class["macro avg"] = _row(precision.mean(), recall.mean(), f1.mean(), total)
    weights = support / total if total else np.zeros(n)
    per_class["weighted avg"] = _row(*(float((v * weights).sum()) if total else 0.0 for v in (precision, recall, f1)), total)
    return summary, per_class


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """n x n counts, rows actual, columns predicted; predictions outside 0..n-1 are left out."""
    keep = (y_pred >= 0) & (y_pred < n) & (y_true >= 0) & (y_true < n)
    return np.bincount(y_true[keep] * n + y_pred[keep], minlength=n * n).reshape(n, n)


def _divide(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """a / b, 0 where b is 0 (scikit-learn's zero_division=0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _row(precision: float, recall: float, f1: float, support: float) -> dict[str, float]:
    return {"precision": float(precision), "recall": float(recall), "f1-score": float(f1), "support": float(support)}


def per_group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> dict[str, dict]:
    """Test accuracy per subject (LeapGestRecog) or hand (Fingers); empty where the dataset has no groups."""
    out = {}
    for g in sorted(set(groups.tolist()) - {""}):
        hit = groups == g
        out[str(g)] = {"n": int(hit.sum()), "accuracy": float((y_true[hit] == y_pred[hit]).mean())}
    return out


def scored_samples(table: pd.DataFrame, test_idx: np.ndarray, names: list[str], y_true: np.ndarray,
                   y_pred: np.ndarray) -> tuple[dict[str, dict], pd.DataFrame]:  # fmt: skip
    """Test accuracy per group (subject, hand) and one row per test sample: sample_id, actual, predicted.
    `table` is the split file's (its group and sample_id columns)."""
    from handsign.recognition.inference import names_of

    groups = table["group"].astype(str).to_numpy()[test_idx]
    predictions = pd.DataFrame({
        "sample_id": table["sample_id"].to_numpy()[test_idx],
        "actual": [names[i] for i in y_true],
        "predicted": names_of(names, y_pred),
    })  # fmt: skip
    return per_group_accuracy(y_true, y_pred, groups), predictions


def write_reports(paths: ExperimentPaths, summary: dict, per_class: dict, per_group: dict, predictions: pd.DataFrame) -> None:
    """reports/<experiment>/: metrics.json (a DVC metric), per_class.json, per_group.json, predictions.csv."""
    write_json(paths.metrics, summary)
    write_json(paths.per_class, per_class)
    write_json(paths.per_group, per_group)
    with atomic_path(paths.predictions) as tmp:
        predictions.to_csv(tmp, index=False)


def group_summary(per_group: dict[str, dict]) -> dict[str, float]:
    """The worst group's accuracy and the spread between groups (nothing where there are no groups)."""
    if not per_group:
        return {}
    accuracies = [g["accuracy"] for g in per_group.values()]
    return {"group_accuracy_min": min(accuracies), "group_accuracy_std": float(np.std(accuracies))}


def held_out_score(accuracies: list[float], choose_by: str) -> float:
    """What chooses among models by people never seen (registry.choose_by): the mean of the held-out
    groups' accuracies, or the worst."""
    return min(accuracies) if choose_by == "worst" else float(np.mean(accuracies))


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


# How each metric the loop reports is labelled on a plot.
CURVE_LABELS = {"acc": "accuracy", "psnr": "PSNR (dB)"}


def plot_training_curves(history: pd.DataFrame, path: Path, title: str) -> None:
    """Loss and the task's metric (accuracy, or PSNR for an autoencoder), train and validation."""
    metric = next(c[len("train_") :] for c in history.columns if c.startswith("train_") and c != "train_loss")
    loss_label = "mean squared error" if metric == "psnr" else "cross-entropy"
    fig, axes = _pyplot().subplots(1, 2, figsize=(10, 4))
    for ax, key, label in zip(axes, ("loss", metric), (loss_label, CURVE_LABELS.get(metric, metric)), strict=True):
        ax.plot(history["epoch"], history[f"train_{key}"], "o-", label="train")
        ax.plot(history["epoch"], history[f"val_{key}"], "o-", label="validation")
        ax.set(xlabel="epoch", ylabel=label, title="loss" if key == "loss" else label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save_figure(fig, path)


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), len(class_names))
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


def plot_reconstructions(images: np.ndarray, rebuilt: np.ndarray, captions: list[str], path: Path, title: str) -> None:
    """Each input (upper row of a pair) above its reconstruction (lower row), 8 to a row."""
    n, cols = len(images), 8
    rows = (n + cols - 1) // cols
    fig, axes = _pyplot().subplots(2 * rows, cols, figsize=(1.4 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r, c = 2 * (i // cols), i % cols
        axes[r, c].imshow(images[i, 0], cmap="gray", vmin=0, vmax=255)
        axes[r, c].set_title(captions[i], fontsize=7)
        axes[r + 1, c].imshow(rebuilt[i, 0], cmap="gray", vmin=0, vmax=255)
    fig.suptitle(f"{title}\ninput (above), reconstruction (below)", y=1.0 + 0.12 / rows)  # clear of the captions
    _save_figure(fig, path)


def plot_embedding_map(pca: np.ndarray, tsne: np.ndarray, labels: np.ndarray, class_names: list[str], path: Path,
                       title: str) -> None:  # fmt: skip
    """The test codes in 2-D, by PCA and by t-SNE, one colour per class."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    cmap = plt.get_cmap("tab20" if len(class_names) > 10 else "tab10")
    for ax, xy, name in zip(axes, (pca, tsne), ("PCA", "t-SNE"), strict=True):
        for k, cls in enumerate(class_names):
            hit = labels == k
            if hit.any():
                ax.scatter(xy[hit, 0], xy[hit, 1], s=6, color=cmap(k % cmap.N), label=cls)
        ax.set(title=name, xticks=[], yticks=[])
    axes[1].legend(markerscale=2.5, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(class_names) // 13)
    fig.suptitle(title)
    _save_figure(fig, path)


def plot_anomalies(images: np.ndarray, scores: np.ndarray, captions: list[str], path: Path, title: str) -> None:
    """The test images the autoencoder reconstructs worst, with their reconstruction error."""
    cols = 8
    rows = max(1, (len(images) + cols - 1) // cols)
    fig, axes = _pyplot().subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(len(images)):
        ax = axes[i // cols, i % cols]
        ax.imshow(images[i, 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{captions[i]}\n{scores[i]:.4f}", fontsize=7)
    fig.suptitle(title, y=1.0 + 0.15 / rows)
    _save_figure(fig, path)
