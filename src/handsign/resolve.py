"""What the configure stages share: write one resolved experiment as the config its stages read."""

from __future__ import annotations

from handsign import layout
from handsign.atomic import write_text
from handsign.config import ConfigError, Experiment
from handsign.models import AUTOENCODERS, check_model


def write_config(experiment: Experiment, where: str) -> None:
    """Check the model can start from its `init` (`where` names the params.yaml entry in the
    error), then write reports/<name>/config.json."""
    t = experiment.training
    try:
        check_model(t.model, t.init, t.holdout_class)
        if experiment.split == "loso" and t.model in AUTOENCODERS:
            raise ValueError(f"{t.model} learns without labels: cross-validate a classifier")
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    write_text(layout.ExperimentPaths(experiment.name).config, experiment.to_json())
    split = "leave one subject out" if experiment.split == "loso" else f"{experiment.split} split"
    print(f"{where}: {experiment.dataset} ({experiment.source}) at {experiment.image_size} px, "
          f"{split}, {t.model}, {t.optimizer} lr {t.lr}, {t.epochs} epochs")  # fmt: skip
