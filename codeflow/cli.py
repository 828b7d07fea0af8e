"""The ``codeflow`` command. Subcommands map 1:1 to stages, plus ``demo``.

Subcommands are registered by name in ``COMMANDS`` and imported lazily, so ``codeflow --help`` stays fast
and a stage's heavy imports (Spark, torch) happen only when that stage runs. Each stage module under
``codeflow/commands/`` owns its options.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from codeflow import __version__
from codeflow.errors import CodeflowError

# name -> "module:attribute" of a click command. Add a line here when a stage lands.
COMMANDS: dict[str, str] = {
    "build-triplets": "codeflow.commands.triplets:build_triplets",
    "classifiers": "codeflow.commands.classifiers:classifiers",
    "classify": "codeflow.commands.classifiers:classify",
    "clean-cc": "codeflow.commands.clean_cc:clean_cc",
    "code": "codeflow.commands.code:code",
    "dedup": "codeflow.commands.dedup:dedup",
    "demo": "codeflow.commands.demo:demo",
    "fim": "codeflow.commands.fim:fim",
    "ingest": "codeflow.commands.ingest:ingest",
    "schema": "codeflow.commands.schema:schema",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codeflow")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Logging verbosity of codeflow and the engines.")
@click.option("--quiet", is_flag=True, help="No progress bars (summary table still printed).")
def cli(log_level: str, quiet: bool) -> None:
    """Build the code-flow pretraining corpus: clean, dedup, validate, mine commits, make FIM samples."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    os.environ["CODEFLOW_LOG_LEVEL"] = log_level.upper()  # read by engine workers in other processes
    from codeflow.ui import set_quiet

    set_quiet(quiet)


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage and environment errors become one line on stderr and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="codeflow", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except CodeflowError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
