"""evaluate_ensemble: a pixel classifier and a landmark classifier of one dataset (`ensembles:` in
params.yaml) scored together: each member's trained checkpoint gives its probabilities on their shared
test split and on every external set of the dataset, and the ensemble answers their product
(handsign/recognition/ensemble.py). Nothing is trained. Metrics, per-class and per-group accuracy,
predictions and the confusion matrix go to reports/<ensemble>/ as an experiment's do (so `handsign
results`, `handsign diff` and the pull-request report show it), and to an MLflow run of its own,
tagged with its members' runs, which logs and registers the pair as one served model
(`models:/handsign-<ensemble>-<source>@champion`: `predict`, `live`, `mlflow models serve`). It is
scored by handsign/evaluation/classifiers.py, the path the evaluate stage shares."""

from PIL import Image

from handsign import tracking
from handsign.config import load_params
from handsign.core import layout
from handsign.core.layout import repo_root
from handsign.core.runtime import use_threads
from handsign.core.schema import ConfigError
from handsign.evaluation import classifiers
from handsign.evaluation.classifiers import Member
from handsign.models import Kind
from handsign.pipeline.stage import run_stage
from handsign.use.serving import log_served_ensemble

ROLES = {"pixel": Kind.PIXELS, "landmarks": Kind.LANDMARKS}


def load_member(name: str, kind: Kind) -> Member:
    member = classifiers.load_member(name)
    if member.kind is not kind:
        raise ConfigError(f"{name}: its model {member.checkpoint.model_name} is a {member.kind.value}, "
                          f"not the {kind.value} an ensemble takes here")  # fmt: skip
    return member


def evaluate_ensemble(name: str) -> None:
    params = load_params()
    if name not in params.ensembles:
        raise ConfigError(f"no ensemble {name!r} under ensembles: in params.yaml ({', '.join(params.ensembles) or 'none'})")
    spec = params.ensembles[name]
    members = {role: load_member(getattr(spec, role), kind) for role, kind in ROLES.items()}
    for role, m in members.items():
        m.weight = spec.weight(role)
    pixel = members["pixel"]
    use_threads(pixel.exp.training.threads)
    paths = layout.ExperimentPaths(name)
    title = f"{name}: {spec.pixel} x {spec.landmarks} ({pixel.exp.source} data, {spec.split} split)"
    try:
        results = classifiers.score_members(list(members.values()), paths, title)
    except ValueError as e:
        raise ValueError(f"ensembles.{name}: {e}") from None
    # A run of its own in MLflow experiment handsign-<name>: its members as params, their runs as tags.
    root = repo_root()
    tags = {"dataset": pixel.exp.dataset, "data_source": pixel.exp.source, "split": pixel.exp.split, "model": "ensemble"}
    for role, m in members.items():
        tags[f"{role}_run"] = classifiers.run_of(layout.ExperimentPaths(m.exp.name))
    run_params = {role: m.exp.name for role, m in members.items()} | {"combine": "product of probabilities"}
    run_params |= {f"{role}_weight": m.weight for role, m in members.items()}
    run_id = tracking.start_ensemble_run(name, tags, run_params, root)
    val_accuracy = classifiers.validation_accuracy(list(members.values()))

    def log_model(run_id: str, tracking_uri: str) -> None:
        # Both checkpoints and the hand landmarker, served as one model.
        examples = [Image.fromarray(pixel.data.images[i, 0]) for i in pixel.data.rows("test")[:2]]
        log_served_ensemble(run_id, tracking_uri, {role: m.path for role, m in members.items()}, examples,
                            [m.weight for m in members.values()])  # fmt: skip

    classifiers.publish(name, pixel.exp.source, paths, results, run_id, val_accuracy, log_model, [], "evaluate_ensemble",
                        {"val_accuracy": val_accuracy})  # fmt: skip


if __name__ == "__main__":
    run_stage("evaluate_ensemble", evaluate_ensemble, "An ensemble declared under `ensembles:` in params.yaml.")
