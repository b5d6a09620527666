"""Where each stage reads and writes, relative to the repository root (mirrored in dvc.yaml)."""

from pathlib import Path

RAW = Path("data/raw")
PREPARED = Path("data/prepared")
SPLIT = Path("data/split/split.csv")
SPLIT_DUPLICATES = Path("data/split/cross_split_duplicates.csv")
MODEL = Path("models/model.pt")
MLFLOW_RUN = Path("models/mlflow_run.json")
REPORTS = Path("reports")
SPLIT_SUMMARY = REPORTS / "split.json"
TRAIN_SUMMARY = REPORTS / "train.json"
HISTORY = REPORTS / "train_history.csv"
METRICS = REPORTS / "metrics.json"
PER_CLASS = REPORTS / "per_class.json"
PREDICTIONS = REPORTS / "predictions.csv"
FIG_CURVES = REPORTS / "figures" / "training_curves.png"
FIG_CONFUSION = REPORTS / "figures" / "confusion_matrix.png"
