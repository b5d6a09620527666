"""What every stage script shares: the key it runs for, and clean failure on bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from handsign.config import ConfigError

EXPECTED_ERRORS = (ConfigError, ValueError, FileNotFoundError, RuntimeError)


def run_stage(name: str, body: Callable[[str], None], key_help: str) -> None:
    """Run `body(key)` as a typer command; expected failures print one line and exit 1, no traceback."""

    def main(key: str = typer.Argument(..., help=key_help)) -> None:
        try:
            body(key)
        except EXPECTED_ERRORS as e:
            typer.echo(f"{name}: error: {e}", err=True)
            sys.exit(1)

    main.__doc__ = sys.modules["__main__"].__doc__
    typer.run(main)
