"""configure: resolve every experiment and cross-validation of params.yaml (their overrides over
the shared defaults) into reports/configs/<name>/config.json.

Train, evaluate and crossval read only their own file, so a change to a shared default reruns
exactly the experiments that inherit it: DVC compares each file, and the others are written with
the same bytes and skipped. One stage for all: a stage per experiment cost about 2 s each in DVC's
bookkeeping alone, on every change of a shared default.
"""

from handsign.config import load_params
from handsign.pipeline.resolve import write_configs
from handsign.pipeline.stage import run_stage


def configure() -> None:
    write_configs(load_params().every_experiment())


if __name__ == "__main__":
    run_stage("configure", configure)
