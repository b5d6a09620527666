"""configure: resolve one experiment (its overrides over the shared defaults) into reports/<experiment>/config.json.

Train and evaluate read only this file, so a change to a shared default reruns exactly the
experiments that inherit it: for the others this stage writes the same bytes and DVC skips on.
"""

from handsign.config import load_params
from handsign.resolve import write_config
from handsign.stage import run_stage


def configure(name: str) -> None:
    write_config(load_params().experiment(name), f"experiments.{name}")


if __name__ == "__main__":
    run_stage("configure", configure, "An experiment declared under `experiments:` in params.yaml.")
