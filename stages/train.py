"""train: fit one experiment's model on its train split, keep the epoch with the best validation
score, log to MLflow. Reads only reports/<experiment>/config.json and the experiment's data; an
interrupted run resumes from models/<experiment>/last.pt. Launched by `torchrun` it trains with
DDP on every process it starts; the first process alone writes files and logs."""

from pathlib import Path

import pandas as pd

from handsign import tracking
from handsign.config import load_experiment
from handsign.core import layout
from handsign.core.atomic import atomic_path, write_json
from handsign.core.layout import repo_root
from handsign.data.externalsets import is_added
from handsign.data.splitdata import SplitData, load_split
from handsign.pipeline.stage import run_stage
from handsign.training import distributed
from handsign.training.tasks import task_for
from handsign.training.train import data_fingerprint, fit, interrupted_state


def train(name: str) -> None:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    data = load_split(exp)
    fingerprint = data_fingerprint(data.split_file)
    root = repo_root()
    state = interrupted_state(paths.resume, exp, fingerprint)
    procs = distributed.launched()
    run_id = state["run_id"] if state else (tracking.start_run(exp, root) if procs.main else "")
    result = fit(
        exp, data.store, data.column("split"), paths.model, paths.resume, fingerprint, state, run_id,
        on_epoch=lambda row: tracking.log_epoch(root, run_id, row),
    )  # fmt: skip
    distributed.stop()
    if not procs.main:
        return
    if result.warm_start is not None:
        tracking.log_dict(root, run_id, result.warm_start.to_dict(), "init_weights.json")
    with atomic_path(paths.history) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False)
    best = result.history[result.best_epoch - 1]
    sources = training_sources(data, exp.dataset)
    write_json(paths.train_summary, {
        "train_samples": sources,  # per source: the dataset, and each external set a combined split adds
        "best_epoch": result.best_epoch,
        "best_val_loss": best["val_loss"],
        "best_val_score": task_for(exp.training.model).score(best)[0],
        "train_seconds": round(result.train_seconds, 1),
        "feature_seconds": round(result.feature_seconds, 1),
        "device": result.device,
        "precision": result.precision,
        "environment_lock": tracking.environment_lock(Path.cwd()),  # sha256 of requirements.lock
        # DDP: how the last epoch's training samples were spread over the processes.
        "processes": procs.world_size,
        "samples_per_process_min": min(result.samples_per_process),
        "samples_per_process_max": max(result.samples_per_process),
        "samples_in_two_processes": result.samples_in_two_processes,
    })  # fmt: skip
    write_json(paths.mlflow_run, {"run_id": run_id, "tracking_uri": tracking.tracking_uri(root), "device": result.device})
    tracking.set_tags(root, run_id, {"device": result.device, "precision": result.precision,
                                     "train_sources": ", ".join(f"{k} ({v})" for k, v in sources.items())})  # fmt: skip
    seconds = result.train_seconds
    print(
        f"train: {name}: best epoch {result.best_epoch}, val loss {best['val_loss']:.4f}, {seconds:.0f}s "
        f"on {result.device} ({result.precision})"
    )
    if procs.distributed:
        print(f"train: {procs.world_size} processes trained on {result.samples_per_process} samples each in the last epoch")
    print(f"train: MLflow run {run_id}")


def training_sources(data: SplitData, dataset: str) -> dict[str, int]:
    """Training samples per source: the dataset's own, and each external set's (group) in a combined split."""
    train = data.table[data.column("split") == "train"]
    added = is_added(train["source"])
    return {dataset: int((~added).sum()), **{str(k): int(v) for k, v in train[added].groupby("group").size().items()}}


if __name__ == "__main__":
    run_stage("train", train, "An experiment declared under `experiments:` in params.yaml.")
