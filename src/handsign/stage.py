"""What every stage script shares: its `--params` option and clean failure on bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

from handsign.config import ConfigError, Params, load_params

EXPECTED_ERRORS = (ConfigError, ValueError, FileNotFoundError, RuntimeError)


def run_stage(name: str, body: Callable[[Params], None]) -> None:
    """Run `body` as a typer command; expected failures print one line and exit 1, no traceback."""

    def main(
        params_file: Path = typer.Option(Path("params.yaml"), "--params", help="The params file to read."),
    ) -> None:
        try:
            body(load_params(params_file))
        except EXPECTED_ERRORS as e:
            typer.echo(f"{name}: error: {e}", err=True)
            sys.exit(1)

    main.__doc__ = sys.modules["__main__"].__doc__
    typer.run(main)
