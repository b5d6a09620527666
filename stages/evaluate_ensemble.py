"""evaluate_ensemble: a pixel classifier and a landmark classifier of one dataset (`ensembles:` in
params.yaml) scored together: each member's trained checkpoint gives its probabilities on their shared
test split and on every external set of the dataset, and the ensemble answers their product
(handsign/evaluation/ensemble.py). Nothing is trained. Metrics, per-class and per-group accuracy,
predictions and the confusion matrix go to reports/<ensemble>/ as an experiment's do (so `handsign
results`, `handsign diff` and the pull-request report show it), and to an MLflow run of its own,
tagged with its members' runs, which logs and registers the pair as one served model
(`models:/handsign-<ensemble>-<source>@champion`: `predict`, `live`, `mlflow models serve`)."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from handsign.config import ConfigError, Experiment, load_experiment, load_params
from handsign.data import external, externalsets
from handsign.data.external import Scored
from handsign.data.splitdata import SplitData, load_split
from handsign.datasets import get_spec
from handsign.evaluation import ensemble, report
from handsign.models import Kind, kind_of
from handsign.pipeline import layout, tracking
from handsign.pipeline.layout import repo_root
from handsign.pipeline.runtime import use_threads
from handsign.pipeline.stage import run_stage
from handsign.use.inference import NO_HAND, load_checkpoint, probabilities
from handsign.use.serving import log_served_ensemble

ROLES = {"pixel": Kind.PIXELS, "landmarks": Kind.LANDMARKS}


@dataclass
class Member:
    """One member's checkpoint and the split it was tested on."""

    exp: Experiment
    model: nn.Module
    checkpoint: dict
    path: Path
    data: SplitData
    test_idx: np.ndarray

    @property
    def landmark(self) -> bool:
        return kind_of(self.checkpoint["model_name"]) is Kind.LANDMARKS

    def test_probabilities(self) -> np.ndarray:
        """N x classes on its test split; a row of zeros where a landmark model found no hand."""
        return probabilities(self.model, self.data.store.images, self.test_idx)

    def val_probabilities(self) -> np.ndarray:
        return probabilities(self.model, self.data.store.images, self.data.rows("val"))


def load_member(name: str, kind: Kind) -> Member:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    model, checkpoint = load_checkpoint(paths.model)
    if kind_of(checkpoint["model_name"]) is not kind:
        raise ConfigError(f"{name}: its model {checkpoint['model_name']} is a {kind_of(checkpoint['model_name']).value}, "
                          f"not the {kind.value} an ensemble takes here")  # fmt: skip
    data = load_split(exp)
    return Member(exp, model, checkpoint, paths.model, data, data.rows("test"))


def evaluate_ensemble(name: str) -> None:
    params = load_params()
    if name not in params.ensembles:
        raise ConfigError(f"no ensemble {name!r} under ensembles: in params.yaml ({', '.join(params.ensembles) or 'none'})")
    spec = params.ensembles[name]
    members = {role: load_member(getattr(spec, role), kind) for role, kind in ROLES.items()}
    pixel, hands = members["pixel"], members["landmarks"]
    use_threads(pixel.exp.training.threads)
    names = pixel.checkpoint["class_names"]
    sample_ids = [m.data.table["sample_id"].to_numpy()[m.test_idx] for m in (pixel, hands)]
    if hands.checkpoint["class_names"] != names or not np.array_equal(*sample_ids):
        raise ValueError(f"ensembles.{name}: {spec.pixel} and {spec.landmarks} were not tested on the same samples "
                         "and classes; retrain both on this split (dvc repro)")  # fmt: skip

    data, test_idx = pixel.data, pixel.test_idx
    y_true = data.column("label")[test_idx]
    y_pred = ensemble.answers(ensemble.combine([pixel.test_probabilities(), hands.test_probabilities()]), NO_HAND)
    summary, per_class = report.classification_metrics(y_true, y_pred, names)
    per_group, predictions = report.scored_samples(data.table, test_idx, names, y_true, y_pred)
    summary.update(report.group_summary(per_group))
    paths = layout.ExperimentPaths(name)
    title = f"{name}: {spec.pixel} x {spec.landmarks} ({pixel.exp.source} data, {spec.split} split)"
    confusion = paths.figures / "confusion_matrix.png"
    report.plot_confusion_matrix(y_true, y_pred, names, confusion, f"{title}\ntest accuracy {summary['accuracy']:.4f}")
    scored, skipped = score_external(spec.dataset, list(members.values()), names)

    report.write_reports(paths, summary, per_class, {"group": get_spec(spec.dataset).group, "test": per_group}, predictions)
    external.write_scores(paths, scored, skipped, name)
    registered = log_run(name, members, summary, scored, [confusion])

    print(f"evaluate_ensemble: {name}: test accuracy {summary['accuracy']:.4f}, macro F1 {summary['f1_macro']:.4f}")
    for set_name, s in scored.items():
        print(
            f"evaluate_ensemble: {name} on {set_name}: accuracy {s.summary['accuracy']:.4f}, macro F1 {s.summary['f1_macro']:.4f}"
        )
    for set_name, why in skipped.items():
        print(f"evaluate_ensemble: {name}: external set {set_name} skipped: {why}")
    print(f"evaluate_ensemble: registered {registered}")


def score_external(dataset: str, members: list[Member], names: list[str]) -> tuple[dict[str, Scored], dict[str, str]]:
    """The ensemble on each external set of `dataset`: each member reads what it reads of the set
    (external.model_inputs), and the answers are their probabilities' product."""
    scored, skipped = {}, {}
    for s in externalsets.sets_of(dataset):
        inputs = [s.absent or external.model_inputs(s, m.checkpoint, m.path, m.landmark) for m in members]
        why = next((i for i in inputs if isinstance(i, str)), None)
        if why is not None:
            skipped[s.name] = why
            continue
        member_probs = [probabilities(m.model, rows, np.arange(len(rows))) for m, rows in zip(members, inputs, strict=True)]
        y_pred = ensemble.answers(ensemble.combine(member_probs), NO_HAND)
        scored[s.name] = external.score(s.table["label"].to_numpy(), y_pred, names, s.table["file"].tolist(), False)
    return scored, skipped


def log_run(name: str, members: dict[str, Member], summary: dict, scored: dict[str, Scored], figures: list[Path]) -> str:
    """A run of its own in MLflow experiment handsign-<name>: its members as params, their runs as
    tags, the test and external metrics, the report files; and the ensemble as one served model
    (both checkpoints and the hand landmarker), registered as handsign-<name>-<source> with its
    validation accuracy as the score that picks the champion. Returns what was registered."""
    root = repo_root()
    pixel = members["pixel"]
    tags = {"dataset": pixel.exp.dataset, "data_source": pixel.exp.source, "split": pixel.exp.split, "model": "ensemble"}
    for role, m in members.items():
        tags[f"{role}_run"] = json.loads(layout.ExperimentPaths(m.exp.name).mlflow_run.read_text())["run_id"]
    params = {role: m.exp.name for role, m in members.items()} | {"combine": "product of probabilities"}
    run_id = tracking.start_ensemble_run(name, tags, params, root)
    paths = layout.ExperimentPaths(name)
    val_y = pixel.data.column("label")[pixel.data.rows("val")]
    val_pred = ensemble.answers(ensemble.combine([m.val_probabilities() for m in members.values()]), NO_HAND)
    val_accuracy = float((val_pred == val_y).mean()) if len(val_y) else 0.0
    logged, external_files = external.run_metrics(paths, summary, scored)
    artifacts = [paths.metrics, paths.per_class, paths.per_group, *figures, *external_files]
    tracking.log_results(root, run_id, logged | {"val_accuracy": val_accuracy}, artifacts)
    examples = [Image.fromarray(pixel.data.store.images[i, 0]) for i in pixel.test_idx[:2]]
    log_served_ensemble(run_id, tracking.tracking_uri(root), {role: m.path for role, m in members.items()}, examples)
    return tracking.register(root, run_id, tracking.registered_model_name(name, pixel.exp.source), val_accuracy)


if __name__ == "__main__":
    run_stage("evaluate_ensemble", evaluate_ensemble, "An ensemble declared under `ensembles:` in params.yaml.")
