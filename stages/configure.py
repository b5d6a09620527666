"""configure: resolve one experiment (its overrides over the shared defaults) into reports/<experiment>/config.json.

Train and evaluate read only this file, so a change to a shared default reruns exactly the
experiments that inherit it: for the others this stage writes the same bytes and DVC skips on.
"""

from handsign import layout
from handsign.atomic import write_text
from handsign.config import ConfigError, load_params
from handsign.models import check_model
from handsign.stage import run_stage


def configure(name: str) -> None:
    experiment = load_params().experiment(name)
    t = experiment.training
    try:
        check_model(t.model, t.init)
    except ValueError as e:
        raise ConfigError(f"experiments.{name}: {e}") from None
    write_text(layout.ExperimentPaths(name).config, experiment.to_json())
    print(f"configure: {name}: {experiment.dataset} ({experiment.source}) at {experiment.image_size} px, "
          f"{experiment.split} split, {t.model}, {t.optimizer} lr {t.lr}, {t.epochs} epochs")  # fmt: skip


if __name__ == "__main__":
    run_stage("configure", configure, "An experiment declared under `experiments:` in params.yaml.")
