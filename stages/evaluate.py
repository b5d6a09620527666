"""evaluate: score one experiment's best checkpoint on its test split; metrics, plots and the
model go to DVC (reports/<experiment>/) and MLflow, where the model is registered. A classifier
is registered to serve: image files in, class names and probabilities out (handsign/use/serving.py;
a landmark model finds the hand first, handsign/hands/handclassifier.py).
An autoencoder is scored on what it learned without labels (handsign/evaluation/embeddings.py):
reconstruction, clustering and a linear probe of its codes, and anomaly detection."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from torch import nn

from handsign.config import Experiment, load_experiment
from handsign.data import external, externalsets
from handsign.data.external import Scored
from handsign.data.splitdata import SplitData, load_split
from handsign.datasets import PreparedStore, get_spec
from handsign.evaluation import report
from handsign.models import Kind, kind_of
from handsign.pipeline import layout, tracking
from handsign.pipeline.layout import repo_root
from handsign.pipeline.runtime import pick_device, use_threads
from handsign.pipeline.stage import run_stage
from handsign.use.inference import hand_found_scores, load_checkpoint, predict
from handsign.use.serving import log_network, log_served_model


def evaluate(name: str) -> None:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    data = load_split(exp)
    use_threads(exp.training.threads)
    model, checkpoint = load_checkpoint(paths.model, pick_device(exp.training.device))
    title = f"{name}: {exp.dataset} / {checkpoint['model_name']} ({exp.source} data, {exp.split} split)"
    history = pd.read_csv(paths.history)
    report.write_curves(history, paths.curves)
    curves = paths.figures / "training_curves.png"
    report.plot_training_curves(history, curves, title)
    score = score_autoencoder if kind_of(checkpoint["model_name"]) is Kind.AUTOENCODER else score_classifier
    results = score(exp, paths, data, model, checkpoint, title)
    results.figures.insert(0, curves)
    publish_results(exp, paths, results)


@dataclass
class Results:
    """What scoring an experiment produced, for `publish_results` to write, log and register."""

    summary: dict[str, Any]  # metrics.json (each logged to MLflow as test_<key>)
    per_class: dict[str, dict[str, float]]
    per_group: dict[str, Any]  # per_group.json: what a group is, and the test accuracy per group
    predictions: pd.DataFrame  # one row per test sample
    figures: list[Path]
    log_model: Callable[[str, str], None]  # (run id, tracking URI): logs the model to the run
    external: dict[str, Scored] = field(default_factory=dict)  # a classifier on each external set
    skipped: dict[str, str] = field(default_factory=dict)  # an external set that could not be scored: why


def score_classifier(exp: Experiment, paths: layout.ExperimentPaths, data: SplitData, model: nn.Module,
                     checkpoint: dict, title: str) -> Results:  # fmt: skip
    store = data.store
    test_idx = data.rows("test")
    names = checkpoint["class_names"]
    y_true = data.column("label")[test_idx]
    y_pred = predict(model, store.images, test_idx)
    summary, per_class = report.classification_metrics(y_true, y_pred, names)
    landmark_rows = kind_of(exp.training.model) is Kind.LANDMARKS
    if landmark_rows:
        summary.update(hand_found_scores(y_true, y_pred))
    per_group, predictions = report.scored_samples(data.table, test_idx, names, y_true, y_pred)
    group_kind = get_spec(exp.dataset).group
    summary.update(report.group_summary(per_group))
    confusion = paths.figures / "confusion_matrix.png"
    report.plot_confusion_matrix(y_true, y_pred, names, confusion, f"{title}\ntest accuracy {summary['accuracy']:.4f}")
    figures = [confusion]
    if per_group:
        figures.append(paths.figures / "per_group_accuracy.png")
        report.plot_per_group(per_group, figures[-1], title, group_kind)

    def log_model(run_id: str, tracking_uri: str) -> None:
        # The served model takes image files and does what its training data went through itself:
        # resizing, or finding the hand (a landmark model, served with the hand landmarker).
        pixels = PreparedStore.load(layout.experiment_data(exp)[0]).images if landmark_rows else store.images
        examples = [Image.fromarray(pixels[i, 0]) for i in test_idx[:2]]
        log_served_model(run_id, tracking_uri, paths.model, examples)

    scored, skipped = score_external(exp, model, checkpoint, paths.model, landmark_rows)
    return Results(summary, per_class, {"group": group_kind, "test": per_group}, predictions, figures, log_model,
                   scored, skipped)  # fmt: skip


def score_external(exp: Experiment, model: nn.Module, checkpoint: dict, path: Path,
                   landmark: bool) -> tuple[dict[str, Scored], dict[str, str]]:  # fmt: skip
    """The classifier on each external set of its dataset (data/external/<dataset>/), reading what
    `external.model_inputs` gives it: a landmark model the hands found in colour, a pixel model the
    images prepared as its training images were."""
    names = checkpoint["class_names"]
    scored, skipped = {}, {}
    for s in externalsets.sets_of(exp.dataset):
        rows = s.absent or external.model_inputs(s, checkpoint, path, landmark)
        if isinstance(rows, str):
            skipped[s.name] = rows
            continue
        y_pred = predict(model, rows, np.arange(len(rows)))
        scored[s.name] = external.score(s.table["label"].to_numpy(), y_pred, names, s.table["file"].tolist(), landmark)
    return scored, skipped


def score_autoencoder(exp: Experiment, paths: layout.ExperimentPaths, data: SplitData, model: nn.Module,
                      checkpoint: dict, title: str) -> Results:  # fmt: skip
    from handsign.evaluation import embeddings  # scikit-learn's clustering and t-SNE: seconds to import, autoencoders only

    store, seed = data.store, exp.training.seed
    names = checkpoint["class_names"]
    labels = data.column("label")
    train_idx, test_idx = data.rows("train"), data.rows("test")
    test = embeddings.encode(model, store.images, test_idx)
    y_true = labels[test_idx]
    holdout = exp.training.holdout_class
    is_anomaly = y_true == names.index(holdout) if holdout else np.zeros(len(y_true), dtype=bool)
    seen = ~is_anomaly  # reconstruction is scored on the classes trained on
    mse = float(test.errors[seen].mean())
    summary: dict = {"mse": mse, "psnr": embeddings.psnr(mse)}
    if holdout:
        summary["mse_holdout_class"] = float(test.errors[is_anomaly].mean())
        summary["anomaly_auc"] = embeddings.anomaly_auc(test.errors, is_anomaly)
    # Clustering and the probe score the codes against labels the autoencoder never saw.
    n_classes = len(np.unique(y_true))
    if n_classes >= 2:
        clusters, scores = embeddings.cluster(test.codes, y_true, n_classes, seed)
        train_codes = embeddings.encode(model, store.images, train_idx).codes
        y_pred = embeddings.linear_probe(train_codes, labels[train_idx], test.codes, seed)
        probe, per_class = report.classification_metrics(y_true, y_pred, names)
        summary.update(scores, probe_accuracy=probe["accuracy"], probe_f1_macro=probe["f1_macro"])
    else:  # a flat folder: one class, nothing to cluster or classify
        clusters, y_pred, per_class = np.zeros(len(y_true), dtype=int), y_true, {}
        print(f"evaluate: {exp.name}: one class only; clustering and the probe need class folders")
    for k, cls in enumerate(names):
        hit = y_true == k
        if hit.any():
            per_class.setdefault(cls, {})["reconstruction_mse"] = float(test.errors[hit].mean())
    per_group, predictions = report.scored_samples(data.table, test_idx, names, y_true, y_pred)  # predicted: by the linear probe
    predictions = predictions.assign(cluster=clusters, reconstruction_error=test.errors)
    group_kind = get_spec(exp.dataset).group
    summary.update(report.group_summary(per_group), parameters=sum(p.numel() for p in model.parameters()), n_test=len(test_idx))

    figures = {f: paths.figures / f"{f}.png" for f in ("reconstructions", "embedding_map", "anomalies")}
    shown = np.sort(test_idx[np.random.default_rng(seed).permutation(len(test_idx))[:16]])
    report.plot_reconstructions(store.images[shown], embeddings.reconstruct(model, store.images[shown]),
                                [names[labels[i]] for i in shown], figures["reconstructions"],
                                f"{title}\ntest MSE {mse:.4f}, PSNR {summary['psnr']:.1f} dB")  # fmt: skip
    rows, pca, tsne = embeddings.map_2d(test.codes, seed)
    scored = f"k-means ARI {summary['kmeans_ari']:.3f}, NMI {summary['kmeans_nmi']:.3f}" if n_classes >= 2 else "one class"
    report.plot_embedding_map(pca, tsne, y_true[rows], names, figures["embedding_map"],
                              f"{title}\n{len(rows)} test codes; {scored}")  # fmt: skip
    worst = np.argsort(-test.errors, kind="stable")[:16]
    auc = f"; held-out class {holdout}: ROC AUC {summary['anomaly_auc']:.3f}" if holdout else ""
    report.plot_anomalies(store.images[test_idx[worst]], test.errors[worst], [names[y_true[i]] for i in worst],
                          figures["anomalies"], f"{title}\nworst-reconstructed test images (error){auc}")  # fmt: skip
    if n_classes >= 2:
        figures["confusion_matrix"] = paths.figures / "confusion_matrix.png"
        report.plot_confusion_matrix(y_true, y_pred, names, figures["confusion_matrix"],
                                     f"{title}\nlinear probe on the codes: accuracy {summary['probe_accuracy']:.4f}")  # fmt: skip
    if per_group:
        figures["per_group_accuracy"] = paths.figures / "per_group_accuracy.png"
        report.plot_per_group(per_group, figures["per_group_accuracy"], f"{title}\nlinear probe", group_kind)

    def log_model(run_id: str, tracking_uri: str) -> None:
        log_network(run_id, tracking_uri, paths.model)  # its encoder can start a classifier (init)

    per_group_file = {"group": group_kind, "test": per_group, "scored_by": "linear probe"}
    return Results(summary, per_class, per_group_file, predictions, list(figures.values()), log_model)


def publish_results(exp: Experiment, paths: layout.ExperimentPaths, results: Results) -> None:
    """Write the scores to reports/<experiment>/, log them, the figures and the model to the
    experiment's MLflow run, and register the model."""
    report.write_reports(paths, results.summary, results.per_class, results.per_group, results.predictions)
    external.write_scores(paths, results.external, results.skipped, exp.name)
    run_id = json.loads(paths.mlflow_run.read_text())["run_id"]
    val_score = json.loads(paths.train_summary.read_text())["best_val_score"]
    logged, external_files = external.run_metrics(paths, results.summary, results.external)
    artifacts = [paths.config, paths.metrics, paths.per_class, paths.per_group, paths.train_summary, *results.figures]
    root = repo_root()
    tracking.log_results(root, run_id, logged, artifacts + external_files)
    results.log_model(run_id, tracking.tracking_uri(root))
    registered = tracking.register(root, run_id, tracking.registered_model_name(exp.name, exp.source), val_score)
    scores = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in results.summary.items())
    print(f"evaluate: {exp.name}: {scores}")
    for name, s in results.external.items():
        print(f"evaluate: {exp.name} on {name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                             for k, v in s.summary.items()))  # fmt: skip
    for name, why in results.skipped.items():
        print(f"evaluate: {exp.name}: external set {name} skipped: {why}")
    print(f"evaluate: registered {registered}")


if __name__ == "__main__":
    run_stage("evaluate", evaluate, "An experiment declared under `experiments:` in params.yaml.")
