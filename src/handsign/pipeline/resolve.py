"""The configure stage's work: check each resolved experiment and write the configs its stages read."""

from __future__ import annotations

from handsign.config import Experiment
from handsign.core import layout
from handsign.core.atomic import atomic_path
from handsign.core.schema import ConfigError
from handsign.models import Kind, check_model


def check(experiment: Experiment, where: str) -> None:
    """Raise ConfigError (naming the params.yaml entry `where`) unless the model can start from its
    `init` and, in a cross-validation, learns from labels."""
    t = experiment.training
    try:
        check_model(t.model, t.init, t.holdout_class)
        if experiment.split == "loso" and experiment.kind is Kind.AUTOENCODER:
            raise ValueError(f"{t.model} learns without labels: cross-validate a classifier")
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def write_configs(experiments: list[tuple[str, Experiment]]) -> None:
    """Check every experiment, then write reports/configs/<name>/config.json for each, all or
    nothing (a config of an experiment no longer declared goes with the old folder)."""
    for where, experiment in experiments:
        check(experiment, where)
    with atomic_path(layout.CONFIGS) as tmp:
        tmp.mkdir()
        for where, experiment in experiments:
            path = tmp / experiment.name / "config.json"
            path.parent.mkdir()
            path.write_text(experiment.to_json())
            t = experiment.training
            split = "leave one subject out" if experiment.split == "loso" else f"{experiment.split} split"
            print(f"{where}: {experiment.dataset} ({experiment.source}) at {experiment.image_size} px, "
                  f"{split}, {t.model}, {t.optimizer} lr {t.lr}, {t.epochs} epochs")  # fmt: skip
