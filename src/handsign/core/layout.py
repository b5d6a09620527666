"""Where each stage reads and writes, relative to the repository root. dvc.yaml names the same
paths (tests/test_dvc_yaml.py checks every stage against these functions).

Data is kept per dataset (download) and per prepared copy (prepare, split); results per
experiment, so every experiment's metrics and plots sit side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA = Path("data")
MODELS = Path("models")
REPORTS = Path("reports")
CONFIGS = REPORTS / "configs"  # one folder, written whole by the configure stage


def repo_root(start: str | Path | None = None) -> Path:
    """The repository that owns this run, also from inside a `dvc exp run --temp/--queue` copy.

    DVC runs those experiments in `<repo>/.dvc/tmp/exps/...` (and sets `DVC_ROOT` for queued
    ones); they must reach the repository's own MLflow store, not one in a throwaway copy.
    """
    here = Path(start or Path.cwd()).resolve()
    parts = here.parts
    if ".dvc" in parts:
        i = parts.index(".dvc")
        if parts[i + 1 : i + 3] == ("tmp", "exps"):
            return Path(*parts[:i])
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists():
            return candidate
    return here


def raw(dataset: str) -> Path:
    return DATA / "raw" / dataset


def prepared(copy: str) -> Path:
    return DATA / "prepared" / copy


def split_dir(copy: str) -> Path:
    return DATA / "split" / copy


def split_file(copy: str, strategy: str) -> Path:
    """Every sample of the copy with its split, source file and row, label, subject and content hash."""
    return split_dir(copy) / f"{strategy}.csv"


def split_summary(copy: str) -> Path:
    return REPORTS / "data" / f"{copy}.json"


def landmarker() -> Path:
    """The pinned hand landmarker every landmarks stage detects with (the landmarker stage writes it)."""
    return DATA / "weights" / "hand_landmarker.task"


def landmarks(dataset: str) -> Path:
    """The hand landmarks of every sample of a dataset (landmarks.npz, samples.csv)."""
    return DATA / "landmarks" / dataset


def landmark_summary(dataset: str) -> Path:
    """How often a hand was found: in all, per class, per official split."""
    return REPORTS / "landmarks" / f"{dataset}.json"


@dataclass(frozen=True)
class ExperimentPaths:
    name: str

    @property
    def config(self) -> Path:
        return CONFIGS / self.name / "config.json"

    @property
    def model(self) -> Path:
        return MODELS / self.name / "model.pt"

    @property
    def resume(self) -> Path:
        """The last completed epoch's full state, kept by DVC across runs (`persist`) for resuming."""
        return MODELS / self.name / "last.pt"

    @property
    def mlflow_run(self) -> Path:
        return MODELS / self.name / "mlflow_run.json"

    @property
    def train_summary(self) -> Path:
        return REPORTS / self.name / "train.json"

    @property
    def history(self) -> Path:
        return REPORTS / self.name / "train_history.csv"

    @property
    def metrics(self) -> Path:
        return REPORTS / self.name / "metrics.json"

    @property
    def per_class(self) -> Path:
        return REPORTS / self.name / "per_class.json"

    @property
    def external_metrics(self) -> Path:
        """Accuracy and macro F1 on each external set of the experiment's dataset (handsign.data.external)."""
        return REPORTS / self.name / "external.json"

    @property
    def external(self) -> Path:
        """Per external set: per_class.json, predictions.csv, confusion_matrix.png; skipped.json."""
        return REPORTS / self.name / "external"

    @property
    def search(self) -> Path:
        """A cross-validation's settings tried (search:): each one's held-out accuracies and score, the choice."""
        return REPORTS / self.name / "search.json"

    @property
    def per_group(self) -> Path:
        """Test accuracy per subject (LeapGestRecog) or hand (Fingers)."""
        return REPORTS / self.name / "per_group.json"

    @property
    def predictions(self) -> Path:
        return REPORTS / self.name / "predictions.csv"

    @property
    def curves(self) -> Path:
        """One long-format CSV per training curve (`epoch,curve,<metric>`), drawn by DVC."""
        return REPORTS / self.name / "curves"

    @property
    def figures(self) -> Path:
        return REPORTS / self.name / "figures"

