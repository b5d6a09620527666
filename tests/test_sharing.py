"""Sharing results, shrunk to one experiment: a DVC remote (push, fresh clone, pull, nothing to
rerun), the pull-request report's reuse of it, and parallel queued experiments logging to a real
MLflow tracking server."""

import json
import subprocess
import time

import pytest
import yaml
from conftest import BIN, REPO, mlflow_serving, run

DVC = str(BIN / "dvc")


def shrink_to_fingers(repo):
    """fingers_cnn alone: a tiny render, 32 px, 2 epochs."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["datasets"] = {"fingers": params["datasets"]["fingers"]}
    params["synthetic"] = {"seed": 0, "per_class_train": 10, "per_class_test": 3, "subjects": 2, "frames_per_gesture": 4}
    params["data"] = {"fingers_32": {"dataset": "fingers", "image_size": 32, "resize": "stretch", "splits": ["official"]}}
    params["experiments"] = {"fingers_cnn": {**params["experiments"]["fingers_cnn"], "image_size": 32, "epochs": 2}}
    params["crossval"] = {}
    params["experiments"]["fingers_cnn"]["reads"] = "data/prepared/fingers_32"
    params["ensembles"] = {}
    params["landmarks"] = {}  # the landmarks stages have their own tests (test_landmarks.py)
    params["external"] = {}  # and the external sets theirs (test_external.py, test_pipeline.py)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "one experiment"], repo)


def mlflow_client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


@pytest.mark.slow
def test_remote_queue_and_tracking_server(repo_copy, tmp_path, stage_host):
    repo = repo_copy
    shrink_to_fingers(repo)
    run([str(BIN / "handsign"), "repro"], repo)

    # A DVC remote in a local folder: push everything, clone afresh, pull, and nothing is stale.
    run([DVC, "remote", "add", "-d", "store", str(tmp_path / "remote")], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "results and remote"], repo)
    pushed = run([DVC, "push"], repo).stdout
    assert "pushed" in pushed
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run([DVC, "pull"], clone)
    assert (clone / "models/fingers_cnn/model.pt").read_bytes() == (repo / "models/fingers_cnn/model.pt").read_bytes()
    assert (clone / "data/prepared/fingers_32/images.npy").exists()
    status = run([DVC, "status"], clone).stdout
    assert "Data and pipelines are up to date" in status, status

    # The pull-request report's reuse (.ci/reproduce-side), on a new runner that has only git: each
    # side pulls what the remote has, so the base reruns nothing and the head only what it changes.
    runner, times = tmp_path / "runner", tmp_path / "times.md"
    run(["git", "clone", "-q", str(repo), str(runner)], tmp_path)
    for key, value in (("user.email", "ci@handsign.invalid"), ("user.name", "handsign CI")):
        run(["git", "config", key, value], runner)
    base = run(["git", "rev-parse", "HEAD"], runner).stdout.strip()
    params = yaml.safe_load((runner / "params.yaml").read_text())
    params["experiments"]["fingers_cnn"]["epochs"] = 1
    (runner / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "a pull request: one experiment trains shorter"], runner)
    head = run(["git", "rev-parse", "HEAD"], runner).stdout.strip()
    side = str(REPO / ".ci" / "reproduce-side")
    for name, sha in (("base", base), ("head", head)):
        run(["bash", side, name, sha], runner, DVC=DVC, TIMES=str(times), **stage_host)
    base_line, head_line = times.read_text().splitlines()
    assert base_line.startswith(f"- base ({base}): ") and ", 0 stages run, " in base_line, base_line
    assert ", 3 stages run, " in head_line and "(DVC remote store)" in head_line, head_line  # configure, train, evaluate
    assert json.loads((runner / "reports/configs/fingers_cnn/config.json").read_text())["training"]["epochs"] == 1
    assert run(["git", "log", "-1", "--format=%s", "report-head"], runner).stdout.strip() == "pipeline results (head)"

    # Two queued experiments of a grid, run side by side, each logging to a real tracking server
    # (sqlite backend, artifacts served by the server) instead of the local store.
    server = ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
              "--artifacts-destination", str(tmp_path / "served-artifacts")]  # fmt: skip
    with mlflow_serving(server, "/health") as uri:
        run([DVC, "exp", "run", "--queue", "-S", "lr=0.02,0.03"], repo)  # fingers_cnn inherits the shared lr
        run([DVC, "queue", "start", "-j", "2"], repo, MLFLOW_TRACKING_URI=uri, **stage_host)
        deadline = time.time() + 900
        while time.time() < deadline:
            status = run([DVC, "queue", "status"], repo).stdout
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(2)
        failed = [line.split()[0] for line in status.splitlines() if " Failed" in line]
        logs = "".join(subprocess.run([DVC, "queue", "logs", task], cwd=repo, capture_output=True, text=True).stdout
                       for task in failed)  # fmt: skip
        assert not failed, status + logs
        shown = json.loads(run([DVC, "exp", "show", "--json"], repo).stdout)
        experiments = {
            r["name"]: float(r["data"]["params"]["params.yaml"]["data"]["lr"])
            for entry in shown for e in (entry.get("experiments") or []) for r in e["revs"] if r.get("data")
        }  # fmt: skip
        assert sorted(experiments.values()) == [0.02, 0.03], experiments
        client = mlflow_client(uri)
        (exp,) = client.search_experiments(filter_string="name = 'handsign-fingers_cnn'")
        assert exp.artifact_location.startswith("mlflow-artifacts:")  # the server stores and serves them
        runs = client.search_runs([exp.experiment_id])
        assert len(runs) == 2
        queued = {r.data.tags["dvc_experiment"]: float(r.data.params["training.lr"]) for r in runs}
        assert {name: queued.get(name) for name in experiments} == experiments  # each run named after its experiment
        assert all(r.info.status == "FINISHED" and "test_accuracy" in r.data.metrics for r in runs)
        assert {"reports/metrics.json", "reports/config.json"} <= {
            a.path for a in client.list_artifacts(runs[0].info.run_id, "reports")
        }
        version = client.get_model_version_by_alias("handsign-fingers_cnn-synthetic", "champion")
        assert version.run_id in {r.info.run_id for r in runs}
        assert list((tmp_path / "served-artifacts").rglob("metrics.json"))  # on the server's side
