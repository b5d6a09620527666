"""crossval: cross-validation of one `crossval:` entry of params.yaml, as configure resolved it
(reports/<name>/config.json): leave one subject out (split `loso`), or leave one source out (a
combined split with `hold_out`: each added source, a person's photos, held out in turn).

One model per subject (or source), trained without it (the next subject in the fold file, or the
copy's own validation rows, pick the best epoch) and tested on it: the honest estimate of how the
model does on a person it has never seen, as a mean, a standard deviation and the worst over them.
Every held-out sample is predicted once, by the model that never saw its subject or source
(reports/<name>/predictions.csv). The fold models are not kept: a cross-validation measures a
recipe. The recipe is then trained once on everything (models/<name>/model.pt) and registered,
its champion chosen by the held-out score (`registry.choose_by`: the mean or the worst), not by an
in-domain test split.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from handsign import tracking
from handsign.config import LOSO, load_experiment, load_params
from handsign.core import layout
from handsign.core.atomic import atomic_path
from handsign.core.layout import repo_root
from handsign.core.runtime import pick_device
from handsign.data.splitdata import load_split
from handsign.datasets import PreparedStore
from handsign.evaluation import classifiers, report
from handsign.models import Kind
from handsign.pipeline.stage import run_stage
from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.inference import NO_HAND, hand_found_scores, names_of, predict
from handsign.training import distributed
from handsign.training.train import fit
from handsign.use.serving import log_served_model


def crossval(name: str) -> None:
    paths = layout.ExperimentPaths(name)
    exp = load_experiment(paths.config)
    data = load_split(exp)
    store, table, split_file = data.store, data.table, data.split_file
    folds = [c for c in table.columns if c.startswith("fold_")]
    procs = distributed.launched()
    root = repo_root()
    run_id = tracking.start_run(exp, root) if procs.main else ""
    unit = "subject" if exp.split == LOSO else "source"  # what a fold holds out
    y_true = table["label"].to_numpy()
    y_pred = np.full(len(table), NO_HAND)
    held_out = np.zeros(len(table), dtype=bool)
    histories, per_fold = [], {}
    for i, fold in enumerate(folds, 1):
        subject = fold.removeprefix("fold_")
        split = table[fold].to_numpy()
        if procs.main:
            print(f"crossval: {name}: fold {i}/{len(folds)}, {unit} {subject} held out")

        def log(row: dict[str, float], subject: str = subject) -> None:
            tracking.log_epoch(root, run_id, {"epoch": row["epoch"], **{f"{subject}/{k}": v for k, v in row.items()}})

        with tempfile.TemporaryDirectory(prefix="crossval-") as tmp:
            checkpoint = Path(tmp) / "model.pt"
            result = fit(exp, store, split, checkpoint, Path(tmp) / "last.pt", run_id=run_id, on_epoch=log)
            if not procs.main:
                continue
            model, _ = load_checkpoint(checkpoint, pick_device(exp.training.device))
        test = np.flatnonzero(split == "test")
        y_pred[test] = predict(model, store.images, test)
        held_out[test] = True
        per_fold[subject] = {"best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds, 1)}
        histories.append(pd.DataFrame(result.history).assign(held_out=subject))
        accuracy = float((y_pred[test] == y_true[test]).mean())
        print(f"crossval: {name}: {unit} {subject}: test accuracy {accuracy:.4f} ({len(test)} images)")
    # The recipe once more, on every subject and source: the model to use. The first fold's
    # validation rows alone are held back (they pick its epoch); its test rows train too.
    first = table[folds[0]].to_numpy()
    if procs.main:
        print(f"crossval: {name}: the recipe on every {unit}, to register")

    def log_all(row: dict[str, float]) -> None:
        tracking.log_epoch(root, run_id, {"epoch": row["epoch"], **{f"all/{k}": v for k, v in row.items()}})

    with tempfile.TemporaryDirectory(prefix="crossval-") as tmp:
        fit(exp, store, np.where(first == "test", "train", first), paths.model, Path(tmp) / "last.pt", run_id=run_id,
            on_epoch=log_all)  # fmt: skip
    distributed.stop()
    if not procs.main:
        return
    if unit == "subject" and not held_out.all():
        raise ValueError(f"{split_file}: {(~held_out).sum()} samples have no subject and were never held out")
    # Scored: every sample a fold held out (leaving sources out, the copy's own rows are never held out).
    table, y_true, y_pred = table[held_out].reset_index(drop=True), y_true[held_out], y_pred[held_out]

    names = store.class_names
    summary, per_class = report.classification_metrics(y_true, y_pred, names)  # pooled over the folds
    groups = table["group"].astype(str).to_numpy()
    per_subject = report.per_group_accuracy(y_true, y_pred, groups)
    for subject, row in per_subject.items():
        row.update(per_fold[subject])
    accuracies = np.array([g["accuracy"] for g in per_subject.values()])
    summary.update(
        accuracy_mean=float(accuracies.mean()),
        accuracy_std=float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
        folds=len(folds),
        **report.group_summary(per_subject),
        # each held-out subject's or source's own accuracy: in `dvc exp show`, `dvc metrics diff`, the PR report
        **{f"held_out_{g}_accuracy": v["accuracy"] for g, v in per_subject.items()},
    )
    if exp.kind is Kind.LANDMARKS:
        summary.update(hand_found_scores(y_true, y_pred))
    predictions = pd.DataFrame({
        "sample_id": table["sample_id"], "held_out": groups,
        "actual": [names[i] for i in y_true], "predicted": names_of(names, y_pred),
    })  # fmt: skip
    report.write_reports(paths, summary, per_class, {"group": unit, "test": per_subject}, predictions)
    with atomic_path(paths.history) as tmp:
        pd.concat(histories).to_csv(tmp, index=False)
    title = f"{name}: {exp.dataset} / {exp.training.model} ({exp.source} data, leave one {unit} out)"
    figures = [paths.figures / "per_group_accuracy.png", paths.figures / "confusion_matrix.png"]
    mean, std, pooled = summary["accuracy_mean"], summary["accuracy_std"], summary["accuracy"]
    report.plot_per_group(per_subject, figures[0], f"{title}\nmean {mean:.4f} +- {std:.4f} over {len(folds)} {unit}s", unit)
    report.plot_confusion_matrix(y_true, y_pred, names, figures[1], f"{title}\npooled out-of-fold accuracy {pooled:.4f}")
    artifacts = [paths.config, paths.metrics, paths.per_class, paths.per_group, paths.history, *figures]
    logged = {f"test_{k}" if not k.startswith("held_out_") else k: v for k, v in summary.items()}
    tracking.log_results(root, run_id, logged, artifacts)
    score = summary["accuracy_mean"] if load_params().registry.choose_by == "mean" else summary["group_accuracy_min"]
    examples = [Image.fromarray(np.asarray(PreparedStore.load(exp.data_paths[0]).images[i, 0])) for i in range(2)]
    log_served_model(run_id, tracking.tracking_uri(root), paths.model, examples)
    card = classifiers.model_card(name, exp.source, classifiers.Results(summary, per_class, {}, predictions, figures), root,
                                  f"every {unit}, after each was held out in turn")  # fmt: skip
    registered = tracking.register(root, run_id, tracking.registered_model_name(name, exp.source), score, card=card)
    print(f"crossval: {name}: accuracy {mean:.4f} +- {std:.4f} (mean, std over {len(folds)} held-out {unit}s), "
          f"worst {unit} {summary['group_accuracy_min']:.4f}, pooled {pooled:.4f}")  # fmt: skip
    print(f"crossval: MLflow run {run_id}; registered {registered} (its champion by the held-out score)")


if __name__ == "__main__":
    run_stage("crossval", crossval, "A cross-validation declared under `crossval:` in params.yaml.")
