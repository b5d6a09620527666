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
from handsign.config import EnsembleParams, load_params
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
    external = classifiers.external_probabilities(list(members.values()))
    choice, not_registered, note = chosen_on_held_out_people(name, spec, list(members.values()), external,
                                                             params.registry.choose_by)  # fmt: skip
    try:
        results = classifiers.score_members(list(members.values()), paths, title, external)
    except ValueError as e:
        raise ValueError(f"ensembles.{name}: {e}") from None
    if choice is not None:
        results.summary |= {"held_out_score": choice.score, "registered": float(not not_registered),
                            "best_member_held_out_score": choice.member_scores[choice.best_member]}  # fmt: skip
        results.summary |= {f"weight_{role}": m.weight for role, m in members.items()}
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

    if choice is not None:
        search = {"choose_by": params.registry.choose_by, "members_alone": choice.member_scores, "tried": choice.tried}
        tracking.log_dict(root, run_id, search, "weight_search.json")
    classifiers.publish(name, pixel.exp.source, paths, results, run_id, val_accuracy, log_model, [], "evaluate_ensemble",
                        {"val_accuracy": val_accuracy}, not_registered, note)  # fmt: skip


def chosen_on_held_out_people(name: str, spec: EnsembleParams, members: list[Member], external: classifiers.External,
                              choose_by: str) -> tuple[classifiers.WeightChoice | None, str, str]:  # fmt: skip
    """The member weights from `search`, chosen on the held-out sets present (set on `members`),
    and, where the ensemble does not beat its better member alone there, why it is not registered;
    the model card's note. With no held-out set present, the declared weights and the validation split."""
    held = {n: (s.table["label"].to_numpy(), each) for n, (s, each) in external[0].items() if n in spec.held_out}
    if not held:
        absent = f" ({', '.join(spec.held_out)}: absent)" if spec.held_out else ""
        note = f"No held-out people{absent}: its weights are as declared and its validation split picks its champion."
        print(f"evaluate_ensemble: {name}: {note}")
        return None, "", note
    grid = [list(spec.search.get(role, [spec.weight(role)])) for role in ROLES]
    choice = classifiers.choose_weights([m.exp.name for m in members], held, grid, choose_by)
    for m, w in zip(members, choice.weights, strict=True):
        m.weight = w
    on = f"{choose_by} accuracy over {', '.join(held)}"
    for t in choice.tried:
        print(f"evaluate_ensemble: {name}: weights {t['weights']}: {on} {t['score']:.4f}")
    best = choice.best_member
    said = (f"Weights {choice.weights} ({', '.join(ROLES)}) chosen on held-out people: {on} {choice.score:.2%}, "
            f"its better member alone ({best}) {choice.member_scores[best]:.2%}.")  # fmt: skip
    print(f"evaluate_ensemble: {name}: {said}")
    if choice.beats_its_members:
        return choice, "", said
    return choice, (f"it does not beat {best} alone on held-out people "
                    f"({choice.score:.2%} against {choice.member_scores[best]:.2%})"), said


if __name__ == "__main__":
    run_stage("evaluate_ensemble", evaluate_ensemble, "An ensemble declared under `ensembles:` in params.yaml.")
