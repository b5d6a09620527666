"""MLflow bookkeeping: one sqlite store per repository, one MLflow experiment per handsign
experiment, one run per training, one registered model per experiment and data source.

Aliases: `newest` on the latest version; `champion` on the version with the best validation
score, moved only when a new version beats it. `import mlflow` costs seconds, so it happens
inside these functions, never at CLI start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from handsign.config import Experiment

T = TypeVar("T")
NEWEST = "newest"
CHAMPION = "champion"


def _mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    return mlflow


def tracking_uri(root: Path) -> str:
    """`MLFLOW_TRACKING_URI` if set, else `<repo>/mlflow.db`; absolute, so temp experiment copies reach it."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / 'mlflow.db').resolve()}"


@contextlib.contextmanager
def store(root: Path) -> Iterator[Any]:
    """mlflow with its fluent API pointed at this repository's store for the block. mlflow's
    `set_tracking_uri` also exports `MLFLOW_TRACKING_URI`, which `tracking_uri` reads as the user's
    choice: without restoring it, a later call for another repository in the same process would
    reach this store."""
    mlflow = _mlflow()
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri(root))
    try:
        yield mlflow
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before


def registered_model_name(name: str, source: str) -> str:
    """Per experiment (or ensemble) and data source: a model trained on synthetic data never shares a name
    with a real one."""
    return f"handsign-{name}-{source}"


def _retry(fn: Callable[[], T], attempts: int = 6) -> T:
    """sqlite allows one writer: parallel queued experiments can see 'database is locked'."""
    for i in range(attempts):
        try:
            return fn()
        except Exception as e:
            if "locked" not in str(e).lower() or i == attempts - 1:
                raise
            time.sleep(0.5 * 2**i)
    raise AssertionError("unreachable")


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


LOCK_FILE = "requirements.lock"


def environment_lock(root: Path) -> str:
    """The sha256 of the repository's lock file (`make install` installs exactly it): which
    environment a result came from. "none" where the checkout has no lock file."""
    path = root / LOCK_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "none"


def create_store(root: Path) -> None:
    """Open (and so create) the repository's store: before stages run side by side, whose first
    openings would otherwise race to create the sqlite schema."""
    with store(root) as mlflow:
        _retry(lambda: mlflow.MlflowClient().search_experiments(max_results=1))


def start_run(exp: Experiment, root: Path) -> str:
    """Open a run for a training, log the resolved config and tags; returns the run id."""
    tags = {"experiment": exp.name, "dataset": exp.dataset, "model": exp.training.model, "data_source": exp.source,
            "split": exp.split}  # fmt: skip
    with store(root) as mlflow:
        return _start_run(mlflow, exp.name, tags, exp.to_flat_dict(), root)


def start_ensemble_run(name: str, tags: dict[str, str], params: dict[str, Any], root: Path) -> str:
    """Open a run for an ensemble (nothing trained: its members' runs hold the training), in its own
    MLflow experiment `handsign-<name>`; returns the run id."""
    with store(root) as mlflow:
        return _start_run(mlflow, name, {"experiment": name, **tags}, params, root)


def _start_run(mlflow: Any, exp_name: str, tags: dict[str, str], params: dict[str, Any], root: Path) -> str:
    name = f"handsign-{exp_name}"

    def experiment_id() -> str:
        found = mlflow.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        if tracking_uri(root).startswith(("http://", "https://", "databricks")):
            return mlflow.create_experiment(name)  # a tracking server stores and serves the artifacts
        # Artifacts beside the store, by absolute path: a temp experiment's copy is deleted.
        return mlflow.create_experiment(name, artifact_location=(root / "mlartifacts" / name).resolve().as_uri())

    exp_id = _retry(experiment_id)
    tags = {
        **tags,
        "git_commit": git_commit(Path.cwd()),  # the checkout that runs, a temp copy included
        "environment_lock": environment_lock(Path.cwd()),
        "dvc_experiment": os.environ.get("DVC_EXP_NAME", "workspace"),
    }
    run = _retry(lambda: mlflow.start_run(experiment_id=exp_id, run_name=f"{exp_name}-{tags['dvc_experiment']}", tags=tags))
    _retry(lambda: mlflow.log_params(params))
    mlflow.end_run()
    return run.info.run_id


def log_dict(root: Path, run_id: str, data: dict[str, Any], artifact_file: str) -> None:
    """A JSON artifact on the run (the warm-start report: which tensors were loaded, which not)."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(root))
    _retry(lambda: client.log_dict(run_id, data, artifact_file))


CHECKPOINT_FILE = "model.pt"  # in a logged model's data/ folder: the train stage's checkpoint
ENSEMBLE_FILE = "ensemble.json"  # in a logged ensemble's data/ instead: its members' checkpoint files, in order


def checkpoint_in(model_folder: Path) -> Path:
    """The checkpoint file in a model folder that evaluate logged (a classifier's or an autoencoder's)."""
    path = model_folder / "data" / CHECKPOINT_FILE
    if (model_folder / "data" / ENSEMBLE_FILE).is_file():
        raise ValueError(f"{model_folder} is an ensemble of several checkpoints (evaluate_ensemble): name one of its members")
    if not path.is_file():
        raise ValueError(
            f"{model_folder} holds no data/{CHECKPOINT_FILE}: it was logged by an older handsign as a pickled network, "
            "which handsign no longer loads (unpickling can run any code). Log it again: dvc repro -f evaluate@<experiment>"
        )
    return path


def logged_checkpoint(uri: str, root: Path) -> Path:
    """The checkpoint of a model logged by an earlier run (`runs:/<id>/model`, `models:/<name>@champion`),
    downloaded: a file of tensors that `torch.load(weights_only=True)` reads."""
    with store(root) as mlflow:
        import mlflow.artifacts

        try:
            local = Path(mlflow.artifacts.download_artifacts(uri))
        except Exception as e:  # MlflowException, OSError: the URI names nothing in this store
            where = tracking_uri(root)
            raise ValueError(f"init: cannot load {uri} from the MLflow store {where} ({type(e).__name__}: {e})") from None
    return checkpoint_in(local)


def set_tags(root: Path, run_id: str, tags: dict[str, str]) -> None:
    """Tags on a run, shown as columns in the MLflow UI (what the training ran on)."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(root))
    _retry(lambda: client.log_batch(run_id, tags=[mlflow.entities.RunTag(k, v) for k, v in tags.items()]))


def log_epoch(root: Path, run_id: str, row: dict[str, float]) -> None:
    mlflow = _mlflow()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(root))
    step = int(row["epoch"])
    metrics = [mlflow.entities.Metric(k, float(v), int(time.time() * 1000), step) for k, v in row.items() if k != "epoch"]
    _retry(lambda: client.log_batch(run_id, metrics=metrics))


def log_results(root: Path, run_id: str, metrics: dict[str, float], artifacts: list[Path]) -> None:
    """Test metrics and report files (under `reports/`) on a run, which then ends."""
    client = log_files(root, run_id, artifacts, "reports", metrics)
    _retry(lambda: client.set_terminated(run_id))


def log_files(root: Path, run_id: str, files: list[Path], folder: str, metrics: dict[str, float] | None = None) -> Any:
    """Files (into the run's artifact `folder`) and metrics (at step 0) on a run, running or ended;
    returns the MLflow client."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(root))
    now = int(time.time() * 1000)
    if metrics:
        batch = [mlflow.entities.Metric(k, float(v), now, 0) for k, v in metrics.items()]
        _retry(lambda: client.log_batch(run_id, metrics=batch))
    for path in files:
        _retry(lambda p=path: client.log_artifact(run_id, str(p), artifact_path=folder))
    return client


def register(root: Path, run_id: str, name: str, val_score: float, artifact_path: str = "model", card: str = "") -> str:
    """Register the model the run logged at `artifact_path` as `name` (`registered_model_name`), point
    `newest` at it, and `champion` too when its validation score (higher is better) beats the champion's.
    `card`, the model card, becomes the version's description (and the registered model's)."""
    with store(root) as mlflow:
        return _register(mlflow, run_id, name, val_score, artifact_path, card)


def _register(mlflow: Any, run_id: str, name: str, val_score: float, artifact_path: str, card: str = "") -> str:
    client = mlflow.MlflowClient()
    version = _retry(lambda: mlflow.register_model(f"runs:/{run_id}/{artifact_path}", name)).version
    _retry(lambda: client.set_model_version_tag(name, version, "val_score", repr(val_score)))
    if card:
        _retry(lambda: client.update_model_version(name, version, description=card))
        _retry(lambda: client.update_registered_model(name, description=card))
    _retry(lambda: client.set_registered_model_alias(name, NEWEST, version))
    champion = _champion_score(client, name)
    crowned = champion is None or val_score > champion
    if crowned:
        _retry(lambda: client.set_registered_model_alias(name, CHAMPION, version))
    verdict = "new champion" if crowned else f"champion stays (its val_score {champion:.4f} >= {val_score:.4f})"
    return f"models:/{name}@{NEWEST} (version {version}, val_score {val_score:.4f}: {verdict})"


def _champion_score(client: Any, name: str) -> float | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None  # no champion yet
    return float(version.tags.get("val_score", "-inf"))
