"""crossval: cross-validation of one `crossval:` entry of params.yaml, as configure resolved it
(reports/<name>/config.json): leave one subject out (split `loso`), or leave one source out (a
combined split with `hold_out`: each added source, a person's photos, held out in turn).

One model per subject (or source), trained without it (the next subject in the fold file, or the
copy's own validation rows, pick the best epoch) and tested on it: the honest estimate of how the
model does on a person it has never seen, as a mean, a standard deviation and the worst over them.
Every held-out sample is predicted once, by the model that never saw its subject or source
(reports/<name>/predictions.csv). The fold models are not kept: a cross-validation measures a
recipe. The recipe is then trained once on everything (models/<name>/model.pt), scored on the
copy's own test split where it has one (the Kaggle test file: never in a fold), and registered, its
champion chosen by the held-out score (`registry.choose_by`: the mean or the worst), not by an
in-domain test split.

With `search:`, every combination of the declared settings is cross-validated in turn and the one
with the best held-out score is trained on everything (reports/<name>/search.json: what each
scored). The reported held-out numbers are then the chosen setting's: a selection score, no longer
a test; people outside the folds are.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from handsign import tracking
from handsign.config import LOSO, Experiment, load_experiment, load_params
from handsign.core import layout
from handsign.core.atomic import atomic_path, write_json
from handsign.core.layout import repo_root
from handsign.core.runtime import pick_device
from handsign.data.splitdata import SplitData, load_split
from handsign.datasets import PreparedStore
from handsign.evaluation import classifiers, report
from handsign.models import Kind
from handsign.pipeline.stage import run_stage
from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.inference import NO_HAND, hand_found_scores, names_of, predict
from handsign.training import distributed
from handsign.training.train import fit
from handsign.use.serving import log_served_model


@dataclass
class Folds:
    """One setting cross-validated: each held-out sample predicted by the model of the fold that held
    out its subject or source (NO_HAND elsewhere), and each fold's best epoch, seconds and history."""

    y_pred: np.ndarray
    held_out: np.ndarray
    per_fold: dict[str, dict[str, float]]
    histories: list[pd.DataFrame]

    def accuracies(self, y_true: np.ndarray, groups: np.ndarray) -> dict[str, float]:
        """Each held-out subject's or source's accuracy, by the model that never saw it."""
        held = self.held_out
        return {g: v["accuracy"] for g, v in report.per_group_accuracy(y_true[held], self.y_pred[held], groups[held]).items()}


def cross_validate(exp: Experiment, data: SplitData, run_id: str, prefix: str = "") -> Folds:
    """`exp` trained once per fold of its split, without that fold's subject or source (its MLflow
    epochs logged as `<prefix><held out>/<metric>`), and tested on it."""
    table, store = data.table, data.store
    folds = [c for c in table.columns if c.startswith("fold_")]
    procs, root = distributed.launched(), repo_root()
    unit = "subject" if exp.split == LOSO else "source"
    out = Folds(np.full(len(table), NO_HAND), np.zeros(len(table), dtype=bool), {}, [])
    y_true = table["label"].to_numpy()
    for i, fold in enumerate(folds, 1):
        subject = fold.removeprefix("fold_")
        split = table[fold].to_numpy()
        if procs.main:
            print(f"crossval: {exp.name}: {prefix}fold {i}/{len(folds)}, {unit} {subject} held out")

        def log(row: dict[str, float], key: str = f"{prefix}{subject}") -> None:
            tracking.log_epoch(root, run_id, {"epoch": row["epoch"], **{f"{key}/{k}": v for k, v in row.items()}})

        with tempfile.TemporaryDirectory(prefix="crossval-") as tmp:
            checkpoint = Path(tmp) / "model.pt"
            result = fit(exp, store, split, checkpoint, Path(tmp) / "last.pt", run_id=run_id, on_epoch=log)
            if not procs.main:
                continue
            model, _ = load_checkpoint(checkpoint, pick_device(exp.training.device))
        test = np.flatnonzero(split == "test")
        out.y_pred[test] = predict(model, store.images, test)
        out.held_out[test] = True
        out.per_fold[subject] = {"best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds, 1)}
        out.histories.append(pd.DataFrame(result.history).assign(held_out=subject))
        accuracy = float((out.y_pred[test] == y_true[test]).mean())
        print(f"crossval: {exp.name}: {prefix}{unit} {subject}: test accuracy {accuracy:.4f} ({len(test)} images)")
    return out


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
    choose_by = load_params().registry.choose_by
    y_true = table["label"].to_numpy()
    groups = table["group"].astype(str).to_numpy()
    candidates = exp.candidates()
    tried, runs = [], []
    for settings, candidate in candidates:
        label = "_".join(f"{k}_{v}" for k, v in settings.items())
        if settings and procs.main:
            print(f"crossval: {name}: setting {len(tried) + 1}/{len(candidates)}: {settings}")
        runs.append(cross_validate(candidate, data, run_id, f"{label}/" if settings else ""))
        if not procs.main:
            continue
        accuracy = runs[-1].accuracies(y_true, groups)
        score = report.held_out_score(list(accuracy.values()), choose_by)
        tried.append({"settings": settings, "accuracy": accuracy, "mean": float(np.mean(list(accuracy.values()))),
                      "worst": min(accuracy.values()), "score": score})  # fmt: skip
        if settings:
            print(f"crossval: {name}: {settings}: held-out {choose_by} {score:.4f}")
    # The best held-out score (max keeps the first of equals: the declared order), chosen by the
    # main process; every process trains it.
    best = max(range(len(tried)), key=lambda i: tried[i]["score"]) if procs.main else 0
    pick = distributed.gather(best, procs)[0]
    final = candidates[pick][1]
    # The recipe once more, on every subject and source: the model to use. The first fold's
    # validation rows alone are held back (they pick its epoch); its test rows train too.
    first = table[folds[0]].to_numpy()
    if procs.main:
        print(f"crossval: {name}: the recipe on every {unit}, to register" + (f" ({candidates[pick][0]})" if exp.search else ""))

    def log_all(row: dict[str, float]) -> None:
        tracking.log_epoch(root, run_id, {"epoch": row["epoch"], **{f"all/{k}": v for k, v in row.items()}})

    with tempfile.TemporaryDirectory(prefix="crossval-") as tmp:
        fit(final, store, np.where(first == "test", "train", first), paths.model, Path(tmp) / "last.pt", run_id=run_id,
            on_epoch=log_all)  # fmt: skip
    distributed.stop()
    if not procs.main:
        return
    result, folds_run = tried[pick], runs[pick]
    if unit == "subject" and not folds_run.held_out.all():
        raise ValueError(f"{split_file}: {(~folds_run.held_out).sum()} samples have no subject and were never held out")
    own_test = own_test_scores(final, data)
    # Scored: every sample a fold held out (leaving sources out, the copy's own rows are never held out).
    held_out = folds_run.held_out
    table, y_true, y_pred = table[held_out].reset_index(drop=True), y_true[held_out], folds_run.y_pred[held_out]

    names = store.class_names
    summary, per_class = report.classification_metrics(y_true, y_pred, names)  # pooled over the folds
    groups = groups[held_out]
    per_subject = report.per_group_accuracy(y_true, y_pred, groups)
    for subject, row in per_subject.items():
        row.update(folds_run.per_fold[subject])
    accuracies = np.array([g["accuracy"] for g in per_subject.values()])
    summary.update(
        accuracy_mean=float(accuracies.mean()),
        accuracy_std=float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
        folds=len(folds),
        settings_tried=len(tried),  # above 1: the held-out numbers chose the setting (a selection score)
        **report.group_summary(per_subject),
        # each held-out subject's or source's own accuracy: in `dvc exp show`, `dvc metrics diff`, the PR report
        **{f"held_out_{g}_accuracy": v["accuracy"] for g, v in per_subject.items()},
        **own_test,
    )
    if exp.kind is Kind.LANDMARKS:
        summary.update(hand_found_scores(y_true, y_pred))
    predictions = pd.DataFrame({
        "sample_id": table["sample_id"], "held_out": groups,
        "actual": [names[i] for i in y_true], "predicted": names_of(names, y_pred),
    })  # fmt: skip
    report.write_reports(paths, summary, per_class, {"group": unit, "test": per_subject}, predictions)
    write_json(paths.search, {"choose_by": choose_by, "search": {k: list(v) for k, v in exp.search.items()},
                              "chosen": result["settings"], "tried": tried})  # fmt: skip
    with atomic_path(paths.history) as tmp:
        pd.concat(folds_run.histories).to_csv(tmp, index=False)
    title = f"{name}: {exp.dataset} / {exp.training.model} ({exp.source} data, leave one {unit} out)"
    figures = [paths.figures / "per_group_accuracy.png", paths.figures / "confusion_matrix.png"]
    mean, std, pooled = summary["accuracy_mean"], summary["accuracy_std"], summary["accuracy"]
    report.plot_per_group(per_subject, figures[0], f"{title}\nmean {mean:.4f} +- {std:.4f} over {len(folds)} {unit}s", unit)
    report.plot_confusion_matrix(y_true, y_pred, names, figures[1], f"{title}\npooled out-of-fold accuracy {pooled:.4f}")
    artifacts = [paths.config, paths.metrics, paths.per_class, paths.per_group, paths.history, paths.search, *figures]
    logged = {f"test_{k}" if not k.startswith(("held_out_", "own_test_")) else k: v for k, v in summary.items()}
    tracking.log_results(root, run_id, logged, artifacts)
    examples = [Image.fromarray(np.asarray(PreparedStore.load(exp.data_paths[0]).images[i, 0])) for i in range(2)]
    log_served_model(run_id, tracking.tracking_uri(root), paths.model, examples)
    how = f"every {unit}, after each was held out in turn"
    if len(tried) > 1:
        how += f"; its settings {result['settings']} chosen among {len(tried)} by the held-out {choose_by} (a selection score)"
    card = classifiers.model_card(name, exp.source, classifiers.Results(summary, per_class, {}, predictions, figures), root, how)
    registered = tracking.register(root, run_id, tracking.registered_model_name(name, exp.source), result["score"], card=card)
    print(f"crossval: {name}: accuracy {mean:.4f} +- {std:.4f} (mean, std over {len(folds)} held-out {unit}s), "
          f"worst {unit} {summary['group_accuracy_min']:.4f}, pooled {pooled:.4f}")  # fmt: skip
    if own_test:
        print(f"crossval: {name}: the model to register on the copy's own test split: {own_test['own_test_accuracy']:.4f}")
    print(f"crossval: MLflow run {run_id}; registered {registered} (its champion by the held-out score)")


def own_test_scores(exp: Experiment, data: SplitData) -> dict[str, float]:
    """The model trained on everything (models/<name>/model.pt) on the copy's own test split (the
    split column's test rows, in no fold: for Sign MNIST the Kaggle test file); {} where it has none."""
    if "split" not in data.table.columns:
        return {}
    test = data.rows("test")
    if not len(test):
        return {}
    model, _ = load_checkpoint(layout.ExperimentPaths(exp.name).model, pick_device(exp.training.device))
    y_true, y_pred = data.column("label")[test], predict(model, data.images, test)
    scores = {"own_test_accuracy": float((y_pred == y_true).mean()), "own_test_n": len(test)}
    if exp.kind is Kind.LANDMARKS:
        scores["own_test_hand_found"] = hand_found_scores(y_true, y_pred)["hand_found"]
    return scores


if __name__ == "__main__":
    run_stage("crossval", crossval, "A cross-validation declared under `crossval:` in params.yaml.")
