"""evaluate: score one experiment's best checkpoint on its test split; metrics, plots and the
model go to DVC (reports/<experiment>/) and MLflow, where the model is registered. A classifier
is registered to serve: image files in, class names and probabilities out (handsign/use/serving.py;
a landmark model finds the hand first, handsign/recognition/landmarks.py). A classifier is scored
by handsign/evaluation/classifiers.py, the path the ensembles' stage shares.
An autoencoder is scored on what it learned without labels (handsign/evaluation/embeddings.py):
reconstruction, clustering and a linear probe of its codes, and anomaly detection."""

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
from PIL import Image
from torch import nn

from handsign.config import Experiment, load_experiment
from handsign.core import layout
from handsign.core.runtime import pick_device, use_threads
from handsign.data.splitdata import SplitData
from handsign.datasets import PreparedStore, get_spec
from handsign.evaluation import classifiers, report
from handsign.evaluation.classifiers import Results
from handsign.models import Kind
from handsign.pipeline.stage import run_stage
from handsign.recognition.checkpoint import Checkpoint
from handsign.use.serving import log_network, log_served_model


def evaluate(name: str) -> None:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    use_threads(exp.training.threads)
    member = classifiers.load_member(name, pick_device(exp.training.device))
    checkpoint = member.checkpoint
    title = f"{name}: {exp.dataset} / {checkpoint.model_name} ({exp.source} data, {exp.split} split)"
    history = pd.read_csv(paths.history)
    report.write_curves(history, paths.curves)
    curves = paths.figures / "training_curves.png"
    report.plot_training_curves(history, curves, title)
    if member.kind is Kind.AUTOENCODER:
        results, log_model = score_autoencoder(exp, paths, member.data, member.model, checkpoint, title)
    else:
        results = classifiers.score_members([member], paths, title)
        log_model = served_model_logger(member, paths)
    results.figures.insert(0, curves)
    val_score = json.loads(paths.train_summary.read_text())["best_val_score"]
    classifiers.publish(name, exp.source, paths, results, classifiers.run_of(paths), val_score, log_model,
                        [paths.config, paths.train_summary], "evaluate")  # fmt: skip


def served_model_logger(member: classifiers.Member, paths: layout.ExperimentPaths) -> Callable[[str, str], None]:
    """Logs the classifier as the served model: it takes image files and does what its training data
    went through itself (resizing, or finding the hand: a landmark model is served with the hand
    landmarker). Two test images are its input example."""

    def log_model(run_id: str, tracking_uri: str) -> None:
        data = member.data
        pixels = PreparedStore.load(member.exp.data_paths[0]).images if member.kind is Kind.LANDMARKS else data.images
        examples = [Image.fromarray(pixels[i, 0]) for i in data.rows("test")[:2]]
        log_served_model(run_id, tracking_uri, paths.model, examples)

    return log_model


def score_autoencoder(exp: Experiment, paths: layout.ExperimentPaths, data: SplitData, model: nn.Module,
                      checkpoint: Checkpoint, title: str) -> tuple[Results, Callable[[str, str], None]]:  # fmt: skip
    from handsign.evaluation import embeddings  # scikit-learn's clustering and t-SNE: seconds to import, autoencoders only

    store, seed = data.store, exp.training.seed
    names = checkpoint.class_names
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
    return Results(summary, per_class, per_group_file, predictions, list(figures.values())), log_model


if __name__ == "__main__":
    run_stage("evaluate", evaluate, "An experiment declared under `experiments:` in params.yaml.")
