"""The one evaluation path for classifiers: one trained model, or several answering together (an
ensemble), scored on their test split and on every external set of their dataset, then published
(reports/<name>/, the MLflow run, the registered model). The evaluate stage scores one member, the
evaluate_ensemble stage two, through the same code: one member's answers are its own (the product
of one model's probabilities picks its own most probable class).

A model that can abstain (a landmark model that finds no hand) answers "no hand" there, an error;
where every member can abstain, the scores also say how often a hand was found."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from handsign import tracking
from handsign.config import Experiment, load_experiment
from handsign.core.layout import ExperimentPaths, repo_root
from handsign.data import externalsets
from handsign.data.splitdata import SplitData, load_split
from handsign.datasets import get_spec
from handsign.evaluation import report
from handsign.evaluation.external import Scored, model_inputs, run_metrics, score, write_scores
from handsign.models import Kind
from handsign.recognition.checkpoint import Checkpoint, load_checkpoint
from handsign.recognition.ensemble import answers, combine
from handsign.recognition.inference import NO_HAND, hand_found_scores, probabilities


@dataclass
class Member:
    """One trained classifier as the pipeline evaluates it: its checkpoint and the split it was tested on."""

    exp: Experiment
    model: nn.Module
    checkpoint: Checkpoint
    data: SplitData
    weight: float = 1.0  # its probabilities' power in an ensemble's product; 0: it takes no part

    @property
    def kind(self) -> Kind:
        return self.checkpoint.kind

    @property
    def class_names(self) -> list[str]:
        return self.checkpoint.class_names

    @property
    def path(self) -> Path:
        """Its checkpoint file (models/<experiment>/model.pt)."""
        return ExperimentPaths(self.exp.name).model

    def probabilities(self, part: str) -> np.ndarray:
        """N x classes on one part of its split (train | val | test); a row of zeros where a landmark
        model found no hand."""
        return probabilities(self.model, self.data.images, self.data.rows(part))


def load_member(name: str, device: str = "cpu") -> Member:
    """The experiment `name` as trained: its resolved config, best checkpoint and split."""
    paths = ExperimentPaths(name)
    exp = load_experiment(paths.config)
    model, checkpoint = load_checkpoint(paths.model, device)
    return Member(exp, model, checkpoint, load_split(exp))


def can_abstain(members: list[Member]) -> bool:
    """Whether the answers may be "no hand": every member taking part is a landmark model (a pixel
    member always answers)."""
    return all(m.kind is Kind.LANDMARKS for m in members if m.weight)


def answer(member_probabilities: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """The members' answers together: the most probable class of their (weighted) product, NO_HAND
    where none answers."""
    return answers(combine(member_probabilities, weights), NO_HAND)


@dataclass
class Results:
    """What scoring a model produced, for `publish` to write, log and register."""

    summary: dict[str, Any]  # metrics.json (each logged to MLflow as test_<key>)
    per_class: dict[str, Any]
    per_group: dict[str, Any]  # per_group.json: what a group is, and the test accuracy per group
    predictions: pd.DataFrame  # one row per test sample
    figures: list[Path]
    external: dict[str, Scored] = field(default_factory=dict)  # on each external set
    skipped: dict[str, str] = field(default_factory=dict)  # an external set that could not be scored: why


def score_members(members: list[Member], paths: ExperimentPaths, title: str, external: External | None = None) -> Results:
    """The members answering together on their shared test split (checked to be the same samples
    and classes) and on every external set of their dataset (`external`: their probabilities there,
    where already computed); the figures drawn into `paths`."""
    first = members[0]
    names = first.class_names
    test_idx = first.data.rows("test")
    for m in members[1:]:
        if m.class_names != names or not np.array_equal(m.data.column("sample_id")[m.data.rows("test")],
                                                        first.data.column("sample_id")[test_idx]):  # fmt: skip
            raise ValueError(f"{m.exp.name} and {first.exp.name} were not tested on the same samples and classes; "
                             "retrain both on this split (dvc repro)")  # fmt: skip
    y_true = first.data.column("label")[test_idx]
    y_pred = answer([m.probabilities("test") for m in members], [m.weight for m in members])
    summary, per_class = report.classification_metrics(y_true, y_pred, names)
    if can_abstain(members):
        summary.update(hand_found_scores(y_true, y_pred))
    per_group, predictions = report.scored_samples(first.data.table, test_idx, names, y_true, y_pred)
    group_kind = get_spec(first.exp.dataset).group
    summary.update(report.group_summary(per_group))
    figures = [paths.figures / "confusion_matrix.png"]
    report.plot_confusion_matrix(y_true, y_pred, names, figures[0], f"{title}\ntest accuracy {summary['accuracy']:.4f}")
    if per_group:
        figures.append(paths.figures / "per_group_accuracy.png")
        report.plot_per_group(per_group, figures[-1], title, group_kind)
    scored, skipped = score_external(members, external)
    return Results(summary, per_class, {"group": group_kind, "test": per_group}, predictions, figures, scored, skipped)


def score_external(members: list[Member], each: External | None = None) -> tuple[dict[str, Scored], dict[str, str]]:
    """The members on each external set of their dataset (`external_probabilities`, or `each` where
    they were already computed); a set none can read is skipped, with the reason."""
    probs, skipped = each or external_probabilities(members)
    names = members[0].class_names
    scored = {}
    for name, (s, per_member) in probs.items():
        y_pred = answer(per_member, [m.weight for m in members])
        scored[name] = score(s.table["label"].to_numpy(), y_pred, names, s.table["file"].tolist(), can_abstain(members))
    return scored, skipped


# Each external set's name: the set and every member's probabilities on it; and the sets skipped, why.
External = tuple[dict[str, tuple[externalsets.ExternalSet, list[np.ndarray]]], dict[str, str]]


def external_probabilities(members: list[Member]) -> External:
    """Every member's probabilities on each external set of their dataset (data/external/<dataset>/):
    each reads what `model_inputs` gives it (a landmark model the hands found in colour, a pixel model
    the images prepared as its training images were)."""
    probs, skipped = {}, {}
    for s in externalsets.sets_of(members[0].exp.dataset):
        inputs = [s.absent or model_inputs(s, m.checkpoint) for m in members]
        why = next((i for i in inputs if isinstance(i, str)), None)
        if why is not None:
            skipped[s.name] = why
            continue
        probs[s.name] = (s, [probabilities(m.model, rows, np.arange(len(rows))) for m, rows in zip(members, inputs, strict=True)])
    return probs, skipped


@dataclass
class WeightChoice:
    """The member weights chosen on held-out people, and how the ensemble then compares with each
    member alone there (the score: registry.choose_by over the held-out sets' accuracies)."""

    weights: list[float]
    score: float
    member_scores: dict[str, float]
    tried: list[dict[str, Any]]  # every combination: its weights, each set's accuracy, the score

    @property
    def best_member(self) -> str:
        return max(self.member_scores, key=self.member_scores.__getitem__)

    @property
    def beats_its_members(self) -> bool:
        return self.score > self.member_scores[self.best_member]


def choose_weights(names: list[str], held: dict[str, tuple[np.ndarray, list[np.ndarray]]], grid: list[list[float]],
                   choose_by: str) -> WeightChoice:  # fmt: skip
    """The weights of `grid` (one list per member, every weight above 0) with the best held-out score
    on `held` (each set's true labels and every member's probabilities there); each member alone,
    `names`, is scored the same way, to compare."""

    def scored(weights: list[float]) -> dict[str, Any]:
        accuracy = {n: float((answer(each, weights) == y_true).mean()) for n, (y_true, each) in held.items()}
        return {"weights": weights, "accuracy": accuracy, "score": report.held_out_score(list(accuracy.values()), choose_by)}

    tried = [scored(list(w)) for w in itertools.product(*grid)]
    best = max(tried, key=lambda t: t["score"])  # the first of equals: the grid's order
    alone = {name: scored([float(i == j) for j in range(len(names))])["score"] for i, name in enumerate(names)}
    return WeightChoice(best["weights"], best["score"], alone, tried)


def validation_accuracy(members: list[Member]) -> float:
    """The members' accuracy together on their validation rows (what picks an ensemble's champion)."""
    data = members[0].data
    y_true = data.column("label")[data.rows("val")]
    y_pred = answer([m.probabilities("val") for m in members], [m.weight for m in members])
    return float((y_pred == y_true).mean()) if len(y_true) else 0.0


def publish(name: str, source: str, paths: ExperimentPaths, results: Results, run_id: str, val_score: float,
            log_model: Callable[[str, str], None], artifacts: list[Path], stage: str,
            metrics: dict[str, float] | None = None, not_registered: str = "", card_note: str = "") -> str:  # fmt: skip
    """Write the scores to reports/<name>/, log them, the report files and the model (`log_model(run id,
    tracking URI)`) to the run, which then ends, and register the model as handsign-<name>-<source>
    (champion by `val_score`) unless `not_registered` says why not; `metrics` adds to the run's,
    `card_note` to the model card. Returns what was registered ("" for nothing)."""
    report.write_reports(paths, results.summary, results.per_class, results.per_group, results.predictions)
    write_scores(paths, results.external, results.skipped, name)
    logged, external_files = run_metrics(paths, results.summary, results.external)
    root = repo_root()
    tracking.log_results(root, run_id, logged | (metrics or {}), [*artifacts, paths.metrics, paths.per_class, paths.per_group,
                                                *results.figures, *external_files])  # fmt: skip
    log_model(run_id, tracking.tracking_uri(root))
    card = model_card(name, source, results, root, note=card_note)
    registered = "" if not_registered else tracking.register(root, run_id, tracking.registered_model_name(name, source),
                                                             val_score, card=card)  # fmt: skip
    print(f"{stage}: {name}: " + _scores(results.summary))
    for set_name, s in results.external.items():
        print(f"{stage}: {name} on {set_name}: " + _scores(s.summary))
    for set_name, why in results.skipped.items():
        print(f"{stage}: {name}: external set {set_name} skipped: {why}")
    print(f"{stage}: registered {registered}" if registered else f"{stage}: {name} not registered: {not_registered}")
    return registered


INTENDED_USE = ("Intended use: research and prototyping of hand-gesture recognition from camera images "
                "(`handsign predict`, `handsign.load`, `mlflow models serve`). Its test numbers are on the "
                "data named here; read the external sets' numbers (other people, other cameras) before "
                "trusting it on yours. Not for decisions about people.")


def model_card(name: str, source: str, results: Results, root: Path, trained_on: str = "", note: str = "") -> str:
    """The registered model's description: what it was trained on, its in-domain and external-set
    numbers (and `note`: how it was chosen), the environment lock it came from and its intended use."""
    s = results.summary
    lines = [f"handsign model `{name}`, trained on {source} data{f' ({trained_on})' if trained_on else ''}."]
    if "accuracy" in s:
        found = f", a hand found in {s['hand_found']:.1%}" if "hand_found" in s else ""
        lines.append(f"Own test split: accuracy {s['accuracy']:.2%}, macro F1 {s.get('f1_macro', 0):.4f} "
                     f"({s.get('n_test', '?')} images{found}).")  # fmt: skip
    if "accuracy_mean" in s:
        lines.append(f"Held out in turn ({s.get('folds', '?')} folds): mean {s['accuracy_mean']:.2%}, "
                     f"worst {s['group_accuracy_min']:.2%}.")  # fmt: skip
    for set_name, scored in results.external.items():
        found = f", hand found {scored.summary['hand_found']:.0%}" if "hand_found" in scored.summary else ""
        lines.append(f"External set {set_name}: accuracy {scored.summary['accuracy']:.2%}{found}.")
    if note:
        lines.append(note)
    lines.append(f"Environment: requirements.lock sha256 {tracking.environment_lock(root)}.")
    lines.append(INTENDED_USE)
    return "\n".join(lines)


def _scores(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items())


def run_of(paths: ExperimentPaths) -> str:
    """The MLflow run the experiment's training opened (models/<name>/mlflow_run.json)."""
    return json.loads(paths.mlflow_run.read_text())["run_id"]
