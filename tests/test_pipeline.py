"""The real pipeline, shrunk: `handsign repro -j 2` of every experiment and `dvc exp run` on the synthetic
source, in a fresh copy of the repository. One repository serves every check, in order."""

import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import BIN, run, synthetic_params, tool_env, with_reads
from PIL import Image

from handsign.config import params_from_dict
from handsign.datasets import get_spec
from handsign.recognition.loading import from_checkpoint
from handsign.synth import render_dataset
from handsign.use.serving import encode_file

EXPERIMENTS = ("sign_mnist_seed", "sign_mnist_cnn", "leapgestrecog_cnn", "fingers_cnn", "fingers_resnet18_frozen")
AUTOENCODERS = ("sign_mnist_autoencoder_conv", "images_autoencoder_mlp")
DVC = str(BIN / "dvc")


def image_folder(dest):
    """A folder of someone's own images, one folder per class (rendered finger counts 0-2)."""
    raw = dest.parent / "fingers_for_images"
    render_dataset("fingers", raw, synthetic_params(per_class_train=8, per_class_test=2, subjects=2), 2)
    for path, _, count, _ in get_spec("fingers").locate(raw):
        if count <= 2:
            (dest / f"count_{count}").mkdir(parents=True, exist_ok=True)
            path.rename(dest / f"count_{count}" / path.name)
    return dest


def shrink(repo):
    """The committed params, tiny: small renders, 32 px copies, few epochs. fingers_cnn is the
    experiment that must learn (6 classes), and the one whose training gets killed. The ResNets
    are left out but for the frozen finger counter, whose head trains on cached features."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["synthetic"] = {"seed": 0, "per_class_train": 20, "per_class_test": 4, "subjects": 3, "frames_per_gesture": 6}
    params["data"] = {
        "sign_mnist_28": {"dataset": "sign_mnist", "image_size": 28, "resize": "stretch", "splits": ["official"]},
        "leapgestrecog_32": {"dataset": "leapgestrecog", "image_size": 32, "resize": "stretch", "splits": ["subject", "loso"]},
        "fingers_32": {"dataset": "fingers", "image_size": 32, "resize": "stretch", "splits": ["official"]},
    }
    # The autoencoders: the conv one on the letters, the published MLP on a folder of your own images.
    params["datasets"]["images"] = {"source": "local", "local_path": str(image_folder(repo.parent / "my_images"))}
    # External sets of the finger counts: the renderer's other camera, a folder of someone's own
    # (class folders count_<n>: a label map) and one whose files are absent (skipped, named).
    counts = {f"count_{n}": str(n) for n in range(3)}
    params["external"] = {
        "fingers_other_camera": {"dataset": "fingers", "source": "synthetic", "per_class": 2},
        "my_counts": {"dataset": "fingers", "path": str(repo.parent / "my_images"), "classes": counts},
        "missing": {"dataset": "fingers", "path": "nowhere/photos.zip"},
    }
    params["data"]["images_32"] = {"dataset": "images", "image_size": 32, "resize": "letterbox", "splits": ["random"]}
    conv = params["experiments"]["sign_mnist_autoencoder_conv"]
    landmark_model = params["experiments"]["fingers_landmarks"]
    landmark_loso = params["crossval"]["leapgestrecog_landmarks_loso"]
    mlp = {**params["experiments"]["sign_mnist_autoencoder_mlp"], "dataset": "images", "image_size": 32, "split": "random"}
    params["experiments"] = {name: params["experiments"][name] for name in EXPERIMENTS}
    params["experiments"]["sign_mnist_autoencoder_conv"] = {**conv, "epochs": 3}
    params["experiments"]["images_autoencoder_mlp"] = {**mlp, "epochs": 3, "holdout_class": "count_2"}
    params["epochs"] = 2
    params["experiments"]["leapgestrecog_cnn"]["image_size"] = 32
    params["experiments"]["fingers_cnn"].update(image_size=32, epochs=12)
    params["experiments"]["fingers_resnet18_frozen"].update(image_size=32, epochs=3)
    for name in ("sign_mnist_seed", "leapgestrecog_cnn"):
        params["experiments"][name]["epochs"] = 2
    # Leave-one-subject-out on the 3 subjects, with leapgestrecog_cnn's recipe: 3 folds.
    cnn = {**params["experiments"]["leapgestrecog_cnn"], "split": "loso"}
    params["crossval"] = {"leapgestrecog_cnn_loso": cnn}
    # The hand-landmark route beside the pixels: finger counting, and leave one subject out.
    params["landmarks"] = {name: params["landmarks"][name] for name in ("fingers", "leapgestrecog", "sign_mnist")}
    params["experiments"]["fingers_landmarks"] = {**landmark_model, "image_size": 32, "epochs": 30}
    params["crossval"]["leapgestrecog_landmarks_loso"] = {**landmark_loso, "image_size": 32, "epochs": 10}
    # The two finger counters together, as make real runs sign_mnist_ensemble.
    params["ensembles"] = {"fingers_ensemble": {"dataset": "fingers", "image_size": 32, "split": "official",
                                                "pixel": "fingers_cnn", "landmarks": "fingers_landmarks"}}  # fmt: skip
    path.write_text(yaml.safe_dump(with_reads(params), sort_keys=False))
    params_from_dict(params)  # still valid
    run(["git", "commit", "-qam", "shrink"], repo)


def mlflow_client(repo):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def history_without_seconds(repo, name):
    return pd.read_csv(repo / f"reports/{name}/train_history.csv").drop(columns="seconds")


def ran(out, stage):
    return f"Running stage '{stage}'" in out


def skipped(out, stage):
    return f"Stage '{stage}' didn't change, skipping" in out


@pytest.mark.slow
def test_every_experiment_in_one_pipeline(repo_copy, stage_host):
    repo = repo_copy
    shrink(repo)
    # As `make demo` runs it: `dvc repro`, two stages at a time; DVC's status after it is clean.
    out = run([str(BIN / "handsign"), "repro", "--jobs", "2"], repo).stdout
    assert "up to date" in run([DVC, "status"], repo).stdout
    # A module that no stage runs (a model family or dataset format not yet registered) reruns
    # nothing but the code stage: it changes no script's fingerprint. An edit to the renderer reruns
    # what renders (the downloads of the synthetic source) and retrains nothing: on a real source
    # nothing; here the same renders come out, so nothing after them reruns either.
    unused = [repo / "src/handsign/models/unregistered.py", repo / "src/handsign/datasets/unregistered.py"]
    for path in unused:
        path.write_text('"""Not registered yet."""\n')
    renderer = repo / "src/handsign/synth/hand.py"
    drawn = renderer.read_text()
    renderer.write_text(drawn + "# an edit that draws the same hands\n")
    again = run([DVC, "repro"], repo).stdout
    assert ran(again, "code") and ran(again, "download@fingers"), again
    rerun = [line.split("'")[1] for line in again.splitlines() if line.startswith("Running stage")]
    assert all(s == "code" or s.startswith(("download@", "external@")) for s in rerun), rerun
    for path in unused:  # (the next `handsign repro` below reruns the code stage and the renders once more)
        path.unlink()
    renderer.write_text(drawn)

    # Landmark classifiers, after their hands are found; finger counting from 21 points learns (chance 1/6).
    assert ran(out, "landmarks@fingers") and ran(out, "train@fingers_landmarks")
    hands = json.loads((repo / "reports/fingers_landmarks/metrics.json").read_text())
    assert hands["accuracy"] > 0.6 and hands["hand_found"] > 0.9, hands
    # Every classifier of Fingers is scored on its external sets, the absent one named as skipped.
    for name in ("fingers_cnn", "fingers_resnet18_frozen", "fingers_landmarks"):
        carried = json.loads((repo / f"reports/{name}/external.json").read_text())
        assert sorted(carried) == ["fingers_other_camera", "my_counts"], carried
        own = len(list((repo.parent / "my_images").rglob("*.png")))
        assert carried["fingers_other_camera"]["n_test"] == 12 and carried["my_counts"]["n_test"] == own > 0
        assert ("hand_found" in carried["my_counts"]) == (name == "fingers_landmarks")
        assert json.loads((repo / f"reports/{name}/external/skipped.json").read_text()) == {
            "missing": "nowhere/photos.zip does not exist"}  # fmt: skip
        predictions = pd.read_csv(repo / f"reports/{name}/external/my_counts/predictions.csv", dtype=str)
        assert set(predictions["actual"]) == {"0", "1", "2"}
        assert carried["my_counts"]["accuracy"] == pytest.approx((predictions["actual"] == predictions["predicted"]).mean())
    assert json.loads((repo / "reports/sign_mnist_seed/external.json").read_text()) == {}  # no set of its dataset
    table = run([str(BIN / "handsign"), "results"], repo).stdout
    assert "| `fingers_cnn` |" in table and "| `fingers_ensemble` |" in table
    # The ensemble's stage ran under DVC on both members' checkpoints, with its external sets.
    assert ran(out, "evaluate_ensemble@fingers_ensemble")
    ensemble = json.loads((repo / "reports/fingers_ensemble/external.json").read_text())
    assert sorted(ensemble) == ["fingers_other_camera", "my_counts"] and "hand_found" not in ensemble["my_counts"]
    carried = json.loads((repo / "reports/fingers_cnn/external.json").read_text())
    loso = json.loads((repo / "reports/leapgestrecog_landmarks_loso/metrics.json").read_text())
    assert loso["folds"] == 3 and 0 <= loso["accuracy_mean"] <= 1

    # Outputs per experiment, side by side, in DVC's metrics and plots.
    for name in EXPERIMENTS:
        metrics = json.loads((repo / f"reports/{name}/metrics.json").read_text())
        assert {"accuracy", "precision_macro", "recall_macro", "f1_macro", "n_test"} <= set(metrics)
        assert (repo / f"models/{name}/model.pt").exists()
        for png in ("training_curves.png", "confusion_matrix.png"):
            assert (repo / f"reports/{name}/figures/{png}").read_bytes()[:4] == b"\x89PNG"
    shown = json.loads(run([DVC, "metrics", "show", "--json"], repo).stdout)
    files = shown[""]["data"]  # the workspace: {"": {"data": {file: {"data": metrics}}}}
    assert {f"reports/{name}/metrics.json" for name in EXPERIMENTS} <= set(files)
    plots = json.loads(run([DVC, "plots", "show", "--json"], repo).stdout)["data"]
    for name in EXPERIMENTS:
        expected = {f"reports/{name}/curves/loss.csv", f"reports/{name}/curves/acc.csv", f"reports/{name}/predictions.csv"}
        assert expected <= set(plots)
    loss = plots["reports/fingers_cnn/curves/loss.csv"][0]["content"]["data"]["values"]
    assert {row["curve"] for row in loss} == {"train", "validation"} and len(loss) == 2 * 12
    confusion = plots["reports/fingers_cnn/predictions.csv"][0]["content"]["data"]["values"]
    assert len(confusion) == 6 * 2 * 4  # one row per test image: 6 counts x 2 hands x 4
    # Experiments sharing a dataset and image size share one prepared, split copy.
    prepared = ["fingers_32", "images_32", "leapgestrecog_32", "sign_mnist_28"]
    assert sorted(p.name for p in (repo / "data/prepared").iterdir()) == prepared
    subject = pd.read_csv(repo / "data/split/leapgestrecog_32/subject.csv", dtype={"group": str})
    assert subject.groupby("group")["split"].nunique().max() == 1  # no person in two splits
    assert json.loads((repo / "reports/data/leapgestrecog_32.json").read_text())["subject"]["subjects_in_two_splits"] == 0
    # Accuracy per held-out person, the figure of it, and the worst person's accuracy as a metric.
    per_group = json.loads((repo / "reports/leapgestrecog_cnn/per_group.json").read_text())
    test_subjects = sorted(subject.loc[subject["split"] == "test", "group"].unique())
    assert per_group["group"] == "subject" and sorted(per_group["test"]) == test_subjects
    leap = json.loads((repo / "reports/leapgestrecog_cnn/metrics.json").read_text())
    assert sum(g["n"] for g in per_group["test"].values()) == leap["n_test"]
    assert leap["group_accuracy_min"] == min(g["accuracy"] for g in per_group["test"].values())
    assert (repo / "reports/leapgestrecog_cnn/figures/per_group_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    # Leave one subject out: a fold per subject, each trained without its subject and tested on it.
    loso = pd.read_csv(repo / "data/split/leapgestrecog_32/loso.csv", dtype={"group": str})
    subjects = sorted(loso["group"].unique())
    assert sorted(c for c in loso.columns if c.startswith("fold_")) == [f"fold_{s}" for s in subjects]
    for s in subjects:
        roles = loso.groupby("group")[f"fold_{s}"].unique()
        assert list(roles[s]) == ["test"] and all(len(r) == 1 for r in roles)  # one role per subject per fold
        assert sorted(r[0] for r in roles) == ["test", "train", "val"]
    cv = json.loads((repo / "reports/leapgestrecog_cnn_loso/metrics.json").read_text())
    cv_subjects = json.loads((repo / "reports/leapgestrecog_cnn_loso/per_group.json").read_text())["test"]
    accuracies = [cv_subjects[s]["accuracy"] for s in subjects]
    assert cv["folds"] == 3 and cv["n_test"] == len(loso) == sum(cv_subjects[s]["n"] for s in subjects)
    assert cv["accuracy_mean"] == pytest.approx(np.mean(accuracies)) and cv["accuracy_std"] == pytest.approx(
        np.std(accuracies, ddof=1)
    )
    oof = pd.read_csv(repo / "reports/leapgestrecog_cnn_loso/predictions.csv", dtype={"held_out": str})
    assert len(oof) == len(loso) and cv["accuracy"] == pytest.approx((oof["actual"] == oof["predicted"]).mean())
    assert set(
        pd.read_csv(repo / "reports/leapgestrecog_cnn_loso/train_history.csv", dtype={"held_out": str})["held_out"]
    ) == set(subjects)
    assert "reports/leapgestrecog_cnn_loso/metrics.json" in files
    # The frozen ResNet-18's backbone ran once over the data; its head trained on the features.
    assert "frozen backbone: features of" in out
    assert json.loads((repo / "reports/fingers_resnet18_frozen/train.json").read_text())["feature_seconds"] > 0

    # The autoencoders, scored on what they learned without labels, in DVC's metrics and plots and in MLflow.
    for name in AUTOENCODERS:
        metrics = json.loads((repo / f"reports/{name}/metrics.json").read_text())
        assert {"mse", "psnr", "kmeans_ari", "kmeans_nmi", "probe_accuracy", "anomaly_auc", "parameters"} <= set(metrics)
        assert metrics["psnr"] == pytest.approx(10 * np.log10(1 / metrics["mse"]))
        predictions = pd.read_csv(repo / f"reports/{name}/predictions.csv")
        assert len(predictions) == metrics["n_test"] and metrics["probe_accuracy"] == pytest.approx(
            (predictions["actual"] == predictions["predicted"]).mean()
        )
        for png in ("training_curves", "reconstructions", "embedding_map", "anomalies", "confusion_matrix"):
            assert (repo / f"reports/{name}/figures/{png}.png").read_bytes()[:4] == b"\x89PNG", png
        assert {f"reports/{name}/curves/loss.csv", f"reports/{name}/curves/psnr.csv"} <= set(plots)
        assert f"reports/{name}/metrics.json" in files
    images_split = pd.read_csv(repo / "data/split/images_32/random.csv")
    assert sorted(images_split["class_name"].unique()) == ["count_0", "count_1", "count_2"]
    holdout = json.loads((repo / "reports/images_autoencoder_mlp/metrics.json").read_text())
    assert holdout["n_test"] == (images_split["split"] == "test").sum()
    assert holdout["mse_holdout_class"] > 0 and 0 <= holdout["anomaly_auc"] <= 1

    # The learner learned: far above chance (1/6) on held-out images.
    fingers = json.loads((repo / "reports/fingers_cnn/metrics.json").read_text())
    assert fingers["accuracy"] > 0.5, fingers

    # MLflow: one experiment per handsign experiment, one registered model per experiment and source.
    # Every run and train.json name the environment: the sha256 of the lock file `make install` installed.
    lock = hashlib.sha256((repo / "requirements.lock").read_bytes()).hexdigest()
    client = mlflow_client(repo)
    for name in EXPERIMENTS:
        (exp,) = client.search_experiments(filter_string=f"name = 'handsign-{name}'")
        (first,) = client.search_runs([exp.experiment_id])
        assert first.data.tags["experiment"] == name and first.data.tags["data_source"] == "synthetic"
        assert len(first.data.tags["git_commit"]) == 40
        assert first.data.tags["environment_lock"] == lock
        assert json.loads((repo / f"reports/{name}/train.json").read_text())["environment_lock"] == lock
        registered = f"handsign-{name}-synthetic"
        assert int(client.get_model_version_by_alias(registered, "newest").version) == 1
        assert int(client.get_model_version_by_alias(registered, "champion").version) == 1
    # Every experiment, cross-validation and ensemble the run declares has its reports, its MLflow run
    # and its registered model (a cross-validation registers the recipe trained on every subject).
    declared = params_from_dict(yaml.safe_load((repo / "params.yaml").read_text()))
    every = [(e.name, e.source) for _, e in declared.every_experiment()]
    every += [(name, declared.datasets[ens.dataset].source) for name, ens in declared.ensembles.items()]
    for name, source in every:
        assert (repo / f"reports/{name}/metrics.json").exists(), name
        (exp,) = client.search_experiments(filter_string=f"name = 'handsign-{name}'")
        assert client.search_runs([exp.experiment_id]), name
        assert client.get_model_version_by_alias(f"handsign-{name}-{source}", "champion"), name
    (fingers_exp,) = client.search_experiments(filter_string="name = 'handsign-fingers_cnn'")
    (first,) = client.search_runs([fingers_exp.experiment_id])
    assert first.data.metrics["test_accuracy"] == pytest.approx(fingers["accuracy"])
    assert [m.step for m in client.get_metric_history(first.info.run_id, "val_loss")] == list(range(1, 13))
    assert first.data.metrics["my_counts_accuracy"] == pytest.approx(carried["my_counts"]["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(first.info.run_id, "reports")}
    assert {"reports/metrics.json", "reports/config.json"} <= artifacts
    # An autoencoder registers its network: the encoder a classifier can start from (init).
    from handsign.training.warmstart import source_state_dict

    encoder = source_state_dict("models:/handsign-sign_mnist_autoencoder_conv-synthetic@champion", repo)
    assert {k for k in encoder if k.startswith("encoder.")} and {k for k in encoder if k.startswith("decoder.")}
    (ae_exp,) = client.search_experiments(filter_string="name = 'handsign-sign_mnist_autoencoder_conv'")
    (ae_run,) = client.search_runs([ae_exp.experiment_id])
    assert ae_run.data.metrics["test_mse"] == pytest.approx(
        json.loads((repo / "reports/sign_mnist_autoencoder_conv/metrics.json").read_text())["mse"]
    )
    assert "reports/embedding_map.png" in {a.path for a in client.list_artifacts(ae_run.info.run_id, "reports")}

    # A set added scores the existing models of its dataset, and retrains none (each evaluate
    # registers a version again: `newest` moves, `champion` stays, its val_score being the same).
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["external"]["my_counts_again"] = params["external"]["my_counts"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    again = run([str(BIN / "handsign"), "repro"], repo).stdout
    assert ran(again, "external@fingers") and ran(again, "evaluate@fingers_cnn")
    assert ran(again, "evaluate@fingers_landmarks")
    untouched = ("train@fingers_cnn", "train@fingers_landmarks", "evaluate@sign_mnist_seed")
    assert not [stage for stage in untouched if ran(again, stage)]
    rescored = json.loads((repo / "reports/fingers_cnn/external.json").read_text())
    assert rescored["my_counts_again"] == rescored["my_counts"] == carried["my_counts"]
    run(["git", "commit", "-qam", "another external set"], repo)

    # The registered model takes image files as users have them (the raw 128x128 PNGs, not the
    # 32 px training copies) and answers with the checkpoint's class names and probabilities.
    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/handsign-fingers_cnn-synthetic@champion")
    files = sorted((repo / "data/raw/fingers").rglob("*.png"))[:12]
    answer = served.predict(pd.DataFrame({"image": [encode_file(f) for f in files]}))
    local = from_checkpoint(repo / "models/fingers_cnn/model.pt")
    probabilities = local.probabilities([Image.open(f) for f in files])
    assert list(answer.columns[2:-1]) == local.preprocessing.class_names == ["0", "1", "2", "3", "4", "5"]
    assert list(answer["error"]) == [""] * len(files)  # every row readable
    assert answer[local.preprocessing.class_names].to_numpy() == pytest.approx(probabilities, abs=1e-5)
    assert list(answer["label"]) == [local.preprocessing.class_names[i] for i in probabilities.argmax(1)]
    assert local.preprocessing.image_size == 32 and local.preprocessing.resize == "stretch"

    # Export: TorchScript and ONNX of the experiment's model, checked on its test images, logged to its run.
    exported = run([str(BIN / "handsign"), "export", "fingers_cnn", "--parity-images", "48"], repo).stdout
    assert exported.count(": ok") == 2 and "over 48 test images" in exported, exported
    export_artifacts = {a.path for a in client.list_artifacts(first.info.run_id, "export")}
    assert {"export/model.onnx", "export/model.torchscript.pt", "export/preprocessing.json"} <= export_artifacts
    assert client.get_run(first.info.run_id).data.metrics["export_onnx_max_abs_diff"] < 1e-4

    # A training killed mid-run (SIGKILL: a lost machine) resumes from its last completed epoch
    # on the next `dvc repro` and ends exactly as the uninterrupted run did.
    uninterrupted = history_without_seconds(repo, "fingers_cnn")
    weights = torch.load(repo / "models/fingers_cnn/model.pt")["model"]
    proc = subprocess.Popen(
        [DVC, "repro", "--force", "--single-item", "train@fingers_cnn"], cwd=repo, env=tool_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    for line in proc.stdout:
        if line.startswith("epoch 2/12"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (repo / "models/fingers_cnn/model.pt").exists()  # DVC removed it; last.pt persists
    out = run([DVC, "repro", "evaluate@fingers_cnn"], repo, **stage_host).stdout
    resumed_after = int(out.split("train: resuming fingers_cnn after epoch ")[1].split()[0])
    assert 2 <= resumed_after < 12
    pd.testing.assert_frame_equal(history_without_seconds(repo, "fingers_cnn"), uninterrupted)
    resumed = torch.load(repo / "models/fingers_cnn/model.pt")["model"]
    assert all(torch.equal(weights[k], resumed[k]) for k in weights)

    # `dvc exp run -S lr=1e-4` exactly as typed reruns the experiments that inherit lr, no others;
    # tuning one experiment alone (its epochs, in the same run) reruns that experiment only.
    out = run([DVC, "exp", "run", "-S", "lr=1e-4", "-S", "experiments.leapgestrecog_cnn.epochs=1"], repo, **stage_host).stdout
    unaffected = ("download@fingers", "prepare@fingers_32", "split@fingers_32")
    unaffected += ("train@sign_mnist_seed", "train@sign_mnist_cnn")  # they set their own lr
    for stage in unaffected:
        assert skipped(out, stage), stage
    assert ran(out, "configure") and ran(out, "train@fingers_cnn") and ran(out, "evaluate@fingers_cnn")
    assert all(ran(out, f"{stage}@leapgestrecog_cnn") for stage in ("train", "evaluate"))  # its own lr, its epochs
    assert not ran(out, "crossval@leapgestrecog_cnn_loso")  # its own copy of the recipe: its config did not change
    shown = json.loads(run([DVC, "exp", "show", "--json"], repo).stdout)
    lrs = [
        exp_rev["data"]["params"]["params.yaml"]["data"]["lr"]
        for entry in shown
        for exp_rev in [entry] + [r for e in (entry.get("experiments") or []) for r in e["revs"]]
        if exp_rev.get("data")
    ]
    assert 1e-4 in [float(v) for v in lrs]
    runs = client.search_runs([fingers_exp.experiment_id], order_by=["attributes.start_time DESC"])
    assert float(runs[0].data.params["training.lr"]) == pytest.approx(1e-4)
    assert runs[0].data.tags["dvc_experiment"] not in ("", "workspace")
    # The trial (chance-level after 12 epochs at 1e-4) is the newest version, never the champion.
    assert int(client.get_model_version_by_alias("handsign-fingers_cnn-synthetic", "newest").version) == 4
    assert int(client.get_model_version_by_alias("handsign-fingers_cnn-synthetic", "champion").version) == 1

    # Real-looking data from another source registers under another name; a --temp copy logs here.
    run(["git", "checkout", "--", "params.yaml"], repo)
    local = repo.parent / "fingers_local"
    render_dataset("fingers", local, synthetic_params(per_class_train=6, per_class_test=2, subjects=2), 1)
    get_spec("fingers").locate(local)
    run([DVC, "exp", "run", "--temp", "-S", "datasets.fingers.source=local", "-S", f"datasets.fingers.local_path={local}",
         "evaluate@fingers_cnn"], repo, **stage_host)  # fmt: skip
    assert int(client.get_model_version_by_alias("handsign-fingers_cnn-local", "champion").version) == 1
    assert len(client.search_model_versions("name = 'handsign-fingers_cnn-synthetic'")) == 4
    assert yaml.safe_load((repo / "params.yaml").read_text())["datasets"]["fingers"]["source"] == "synthetic"


def test_bad_raw_row_stops_prepare_and_leaves_no_output(repo_copy):
    repo = repo_copy
    render_dataset("sign_mnist", repo / "data/raw/sign_mnist", synthetic_params(per_class_train=3, per_class_test=2), 0)
    csv = repo / "data/raw/sign_mnist/sign_mnist_train/sign_mnist_train.csv"
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].replace(",", ",x", 1)
    csv.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "stages/prepare.py", "sign_mnist_28"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1
    assert "sign_mnist_train.csv: row 5 has a non-integer value" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (repo / "data/prepared").exists()
    assert not [p for p in (repo / "data").iterdir() if p.name.startswith(".prepared")]
