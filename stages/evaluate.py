"""evaluate: score one experiment's best checkpoint on its test split; metrics, plots and the
model go to DVC (reports/<experiment>/) and MLflow, where the model is registered to serve:
image files in, class names and probabilities out (handsign/serving.py)."""

import json

import numpy as np
import pandas as pd
from PIL import Image

from handsign import layout, report, tracking
from handsign.atomic import atomic_path, write_json
from handsign.config import load_experiment
from handsign.datasets import PreparedStore
from handsign.inference import load_checkpoint, predict
from handsign.runtime import pick_device, repo_root
from handsign.serving import Preprocessing, log_served_model
from handsign.stage import run_stage

# What the split file's `group` column holds for each dataset.
GROUP_KIND = {"leapgestrecog": "subject", "fingers": "hand"}


def evaluate(name: str) -> None:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    prepared, split_file = layout.experiment_data(exp)
    store = PreparedStore.load(prepared)
    table = pd.read_csv(split_file, keep_default_na=False, dtype={"group": str})
    test_idx = np.flatnonzero(table["split"].to_numpy() == "test")
    model, checkpoint = load_checkpoint(paths.model, pick_device(exp.training.device))
    names = checkpoint["class_names"]
    y_true = table["label"].to_numpy()[test_idx]
    y_pred = predict(model, store.images, test_idx)
    summary, per_class = report.classification_metrics(y_true, y_pred, names)

    groups = table["group"].astype(str).to_numpy()[test_idx]
    per_group = report.per_group_accuracy(y_true, y_pred, groups)
    group_kind = GROUP_KIND.get(exp.dataset, "group")
    summary.update(report.group_summary(per_group))
    write_json(paths.metrics, summary)
    write_json(paths.per_class, per_class)
    write_json(paths.per_group, {"group": group_kind, "test": per_group})
    with atomic_path(paths.predictions) as tmp:
        pd.DataFrame({
            "sample_id": table["sample_id"].to_numpy()[test_idx],
            "actual": [names[i] for i in y_true],
            "predicted": [names[i] for i in y_pred],
        }).to_csv(tmp, index=False)  # fmt: skip
    history = pd.read_csv(paths.history)
    report.write_curves(history, paths.curves)
    title = f"{name}: {exp.dataset} / {checkpoint['model_name']} ({exp.source} data, {exp.split} split)"
    curves_png, confusion_png = paths.figures / "training_curves.png", paths.figures / "confusion_matrix.png"
    report.plot_training_curves(history, curves_png, title)
    report.plot_confusion_matrix(y_true, y_pred, names, confusion_png, f"{title}\ntest accuracy {summary['accuracy']:.4f}")
    figures = [curves_png, confusion_png]
    if per_group:
        figures.append(paths.figures / "per_group_accuracy.png")
        report.plot_per_group(per_group, figures[-1], title, group_kind)

    run_id = json.loads(paths.mlflow_run.read_text())["run_id"]
    val_score = json.loads(paths.train_summary.read_text())["best_val_score"]
    artifacts = [paths.config, paths.metrics, paths.per_class, paths.per_group, paths.train_summary, *figures]
    root = repo_root()
    tracking.log_results(root, run_id, {f"test_{k}": v for k, v in summary.items()}, artifacts)
    # The served model takes image files and applies the training data's preprocessing itself.
    examples = [Image.fromarray(store.images[i, 0]) for i in test_idx[:2]]
    preprocessing = Preprocessing(**checkpoint["preprocessing"])
    log_served_model(run_id, tracking.tracking_uri(root), model.cpu(), preprocessing, examples)
    registered = tracking.register(root, run_id, exp, val_score)
    print(f"evaluate: {name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))
    print(f"evaluate: registered {registered}")


if __name__ == "__main__":
    run_stage("evaluate", evaluate, "An experiment declared under `experiments:` in params.yaml.")
