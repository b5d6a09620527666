"""What every stage script shares: the key it runs for, and clean failure on bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from handsign.core.schema import ConfigError

EXPECTED_ERRORS = (ConfigError, ValueError, FileNotFoundError, RuntimeError)


def run_stage(name: str, body: Callable[..., None], key_help: str | None = None) -> None:
    """Run `body(key)` (or `body()`, for a stage without a key) as a typer command; expected failures
    print one line and exit 1, no traceback."""

    def guarded(*key: str) -> None:
        try:
            body(*key)
        except EXPECTED_ERRORS as e:
            typer.echo(f"{name}: error: {e}", err=True)
            sys.exit(1)

    def main(key: str = typer.Argument(..., help=key_help)) -> None:
        guarded(key)

    def main_without_key() -> None:
        guarded()

    command = main if key_help is not None else main_without_key
    command.__doc__ = sys.modules["__main__"].__doc__
    typer.run(command)
