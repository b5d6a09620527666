"""train: fit the model on the train split, keep the best checkpoint by validation loss, log to MLflow."""

import pandas as pd

from handsign import layout, tracking
from handsign.atomic import atomic_path, write_json
from handsign.config import Params
from handsign.datasets import PreparedStore
from handsign.runtime import repo_root
from handsign.stage import run_stage
from handsign.train import fit


def train(params: Params) -> None:
    store = PreparedStore.load(layout.PREPARED)
    split = pd.read_csv(layout.SPLIT, usecols=["split"])["split"].to_numpy()
    root = repo_root()
    run_id = tracking.start_run(params, root)
    result = fit(params, store, split, layout.MODEL, on_epoch=lambda row: tracking.log_epoch(root, run_id, row))
    with atomic_path(layout.HISTORY) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False)
    best = result.history[result.best_epoch - 1]
    write_json(layout.TRAIN_SUMMARY, {
        "best_epoch": result.best_epoch,
        "best_val_loss": best["val_loss"],
        "best_val_acc": best["val_acc"],
        "train_seconds": round(result.train_seconds, 1),
    })  # fmt: skip
    write_json(layout.MLFLOW_RUN, {"run_id": run_id, "tracking_uri": tracking.tracking_uri(root), "device": result.device})
    seconds = result.train_seconds
    print(f"train: best epoch {result.best_epoch}, val loss {best['val_loss']:.4f}, {seconds:.0f}s on {result.device}")
    print(f"train: MLflow run {run_id}")


if __name__ == "__main__":
    run_stage("train", train)
