"""configure_crossval: resolve one cross-validation of params.yaml into reports/<name>/config.json.

As configure does for the experiments: the crossval stage reads only this file, so a shared
default that the cross-validation overrides (its own lr, say) never reruns its folds.
"""

from handsign.config import load_params
from handsign.resolve import write_config
from handsign.stage import run_stage


def configure_crossval(name: str) -> None:
    write_config(load_params().crossval_experiment(name), f"crossval.{name}")


if __name__ == "__main__":
    run_stage("configure_crossval", configure_crossval, "A cross-validation declared under `crossval:` in params.yaml.")
