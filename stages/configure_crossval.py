"""configure_crossval: resolve one cross-validation of params.yaml into reports/<name>/config.json.

As configure does for the experiments: the crossval stage reads only this file, so a shared
default that the cross-validation overrides (its own lr, say) never reruns its folds.
"""

from handsign import layout
from handsign.atomic import write_text
from handsign.config import ConfigError, load_params
from handsign.models import check_model
from handsign.stage import run_stage


def configure_crossval(name: str) -> None:
    experiment = load_params().crossval_experiment(name)
    t = experiment.training
    try:
        check_model(t.model, t.init)
    except ValueError as e:
        raise ConfigError(f"crossval.{name}: {e}") from None
    write_text(layout.ExperimentPaths(name).config, experiment.to_json())
    print(f"configure_crossval: {name}: {experiment.dataset} ({experiment.source}) at {experiment.image_size} px, "
          f"leave one subject out, {t.model}, {t.optimizer} lr {t.lr}, {t.epochs} epochs")  # fmt: skip


if __name__ == "__main__":
    run_stage("configure_crossval", configure_crossval, "A cross-validation declared under `crossval:` in params.yaml.")
