"""evaluate: score the best checkpoint on the test split; metrics, plots and the model go to DVC and MLflow."""

import json

import numpy as np
import pandas as pd

from handsign import layout, report, tracking
from handsign.atomic import atomic_path, write_json
from handsign.config import Params
from handsign.datasets import PreparedStore
from handsign.runtime import pick_device, repo_root
from handsign.stage import run_stage
from handsign.train import load_checkpoint, predict


def evaluate(params: Params) -> None:
    store = PreparedStore.load(layout.PREPARED)
    table = pd.read_csv(layout.SPLIT, keep_default_na=False)
    test_idx = np.flatnonzero(table["split"].to_numpy() == "test")
    model, checkpoint = load_checkpoint(layout.MODEL, pick_device(params.device))
    names = checkpoint["class_names"]
    y_true = table["label"].to_numpy()[test_idx]
    y_pred = predict(model, store.images, test_idx)
    summary, per_class = report.classification_metrics(y_true, y_pred, names)

    write_json(layout.METRICS, summary)
    write_json(layout.PER_CLASS, per_class)
    with atomic_path(layout.PREDICTIONS) as tmp:
        pd.DataFrame({
            "sample_id": table["sample_id"].to_numpy()[test_idx],
            "actual": [names[i] for i in y_true],
            "predicted": [names[i] for i in y_pred],
        }).to_csv(tmp, index=False)  # fmt: skip
    title = f"{params.dataset} / {checkpoint['model_name']}"
    report.plot_training_curves(pd.read_csv(layout.HISTORY), layout.FIG_CURVES, title)
    report.plot_confusion_matrix(y_true, y_pred, names, layout.FIG_CONFUSION, f"{title}: test accuracy {summary['accuracy']:.4f}")

    run_id = json.loads(layout.MLFLOW_RUN.read_text())["run_id"]
    example = np.asarray(store.images[test_idx[:4]], dtype=np.float32)
    registered = tracking.finish_run(
        repo_root(),
        run_id,
        params,
        {f"test_{k}": v for k, v in summary.items()},
        [layout.METRICS, layout.PER_CLASS, layout.TRAIN_SUMMARY, layout.FIG_CURVES, layout.FIG_CONFUSION],
        model.cpu(),
        example,
    )
    print("evaluate: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))
    print(f"evaluate: registered {registered}")


if __name__ == "__main__":
    run_stage("evaluate", evaluate)
