"""The real pipeline, shrunk: `dvc repro` and `dvc exp run` on the synthetic source in a fresh copy."""

import json
import sqlite3
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import BIN, run

from handsign.config import params_from_dict
from handsign.datasets import PreparedStore, get_format
from handsign.split import assign_splits
from handsign.synth import render_dataset
from handsign.train import fit, load_checkpoint, predict

SHRUNK = {
    "synthetic": {"seed": 0, "per_class_train": 12, "per_class_test": 4, "subjects": 3, "frames_per_gesture": 4},
    "epochs": 2,
}


def shrink(repo, **extra):
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.update(SHRUNK, **extra)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "shrink"], repo)


def mlflow_client(repo):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


@pytest.mark.slow
def test_dvc_repro_then_experiments_share_one_mlflow_store(repo_copy):
    repo = repo_copy
    shrink(repo)
    dvc = str(BIN / "dvc")
    run([dvc, "repro"], repo)

    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "n_test"}
    assert metrics["n_test"] == 24 * 4
    history = pd.read_csv(repo / "reports/train_history.csv")
    assert history["epoch"].tolist() == [1, 2]
    predictions = pd.read_csv(repo / "reports/predictions.csv")
    assert len(predictions) == 96 and set(predictions.columns) >= {"actual", "predicted"}
    split = pd.read_csv(repo / "data/split/split.csv")
    assert len(split) == 24 * 16 and split["sample_id"].is_unique
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (repo / "reports/figures" / png).read_bytes()[:4] == b"\x89PNG"
    plots = json.loads(run([dvc, "plots", "show", "--json"], repo).stdout)["data"]
    assert set(plots) == {"Loss", "Accuracy", "Confusion matrix (test)"}
    confusion = plots["Confusion matrix (test)"][0]["content"]["data"]["values"]
    assert len(confusion) == 96 and {"actual", "predicted"} <= set(confusion[0])

    client = mlflow_client(repo)
    (exp,) = client.search_experiments(filter_string="name = 'handsign-sign_mnist'")
    (first,) = client.search_runs([exp.experiment_id])
    assert first.data.tags["dataset"] == "sign_mnist" and first.data.tags["data_source"] == "synthetic"
    assert first.data.tags["model"] == "cnn_small" and len(first.data.tags["git_commit"]) == 40
    assert first.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert [m.step for m in client.get_metric_history(first.info.run_id, "val_loss")] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(first.info.run_id, "reports")}
    assert {"reports/metrics.json", "reports/confusion_matrix.png", "reports/training_curves.png"} <= artifacts
    version = client.get_model_version_by_alias("handsign-sign_mnist", "newest")
    assert version.run_id == first.info.run_id
    # What a server would load (signature, input example, pt2 export) predicts as the checkpoint does.
    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/handsign-sign_mnist@newest")
    assert served.metadata.get_input_schema() is not None
    images = np.load(repo / "data/prepared/images.npy")[:32].astype(np.float32)
    checkpoint_model, _ = load_checkpoint(repo / "models/model.pt")
    assert (np.asarray(served.predict(images)).argmax(1) == predict(checkpoint_model, images, np.arange(32))).all()

    # Exactly as a user types it: only the stages that read `lr` rerun.
    out = run([dvc, "exp", "run", "-S", "lr=1e-4"], repo).stdout
    for stage in ("download", "prepare", "split"):
        assert f"'{stage}' didn't change, skipping" in out
    assert "Running stage 'train'" in out
    shown = json.loads(run([dvc, "exp", "show", "--json"], repo).stdout)
    lrs = [
        exp_rev["data"]["params"]["params.yaml"]["data"]["lr"]
        for entry in shown
        for exp_rev in [entry] + [r for e in (entry.get("experiments") or []) for r in e["revs"]]
        if exp_rev.get("data")
    ]
    assert 1e-4 in [float(v) for v in lrs]
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    assert len(runs) == 2 and float(runs[0].data.params["lr"]) == pytest.approx(1e-4)
    assert runs[0].data.tags["dvc_experiment"] not in ("", "workspace")

    # A temporary copy (`--temp`) runs elsewhere but logs into this repository's store.
    run(["git", "checkout", "--", "params.yaml"], repo)
    run([dvc, "exp", "run", "--temp", "-S", "model=cnn_seed"], repo)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    assert len(runs) == 3 and runs[0].data.tags["model"] == "cnn_seed"
    assert client.list_artifacts(runs[0].info.run_id, "reports")  # artifacts survived the temp copy
    assert client.get_model_version_by_alias("handsign-sign_mnist", "newest").run_id == runs[0].info.run_id
    assert yaml.safe_load((repo / "params.yaml").read_text())["model"] == "cnn_small"

    # A queued run executes in a worker's own copy; it too must land in this store.
    run([dvc, "exp", "run", "--queue", "-S", "optimizer=adam", "-S", "lr=0.002"], repo)
    run([dvc, "queue", "start"], repo)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = run([dvc, "queue", "status"], repo).stdout
        if not any(state in status for state in ("Queued", "Running")):
            break
        time.sleep(3)
    assert "Success" in status, status
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    assert len(runs) == 4 and runs[0].data.params["optimizer"] == "adam"
    with sqlite3.connect(repo / "mlflow.db") as db:
        assert db.execute("select count(*) from model_versions").fetchone()[0] == 4


def test_bad_raw_row_stops_prepare_and_leaves_no_output(repo_copy):
    repo = repo_copy
    render_dataset("sign_mnist", repo / "data/raw", params_from_dict(SHRUNK).synthetic, 0)
    csv = repo / "data/raw/sign_mnist_train/sign_mnist_train.csv"
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].replace(",", ",x", 1)
    csv.write_text("\n".join(lines) + "\n")
    out = __import__("subprocess").run([sys.executable, "stages/prepare.py"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1
    assert "sign_mnist_train.csv: row 5 has a non-integer value" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (repo / "data/prepared").exists()
    assert not [p for p in (repo / "data").iterdir() if p.name.startswith(".prepared")]


def test_same_params_give_the_same_metrics(tmp_path):
    params = params_from_dict({**SHRUNK, "epochs": 1})
    render_dataset("sign_mnist", tmp_path / "raw", params.synthetic, 0)
    get_format("sign_mnist").read(tmp_path / "raw").save(tmp_path / "prepared", "sign_mnist")
    store = PreparedStore.load(tmp_path / "prepared")
    split = assign_splits(store.samples, params.split, params.seed).to_numpy()
    first = fit(params, store, split, tmp_path / "a.pt").history
    second = fit(params, store, split, tmp_path / "b.pt").history
    for a, b in zip(first, second, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    import torch

    wa, wb = torch.load(tmp_path / "a.pt")["model"], torch.load(tmp_path / "b.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert np.isfinite(first[0]["val_loss"])
