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
    "benchmarks": "codeflow.commands.benchmarks:benchmarks",
    "build-triplets": "codeflow.commands.triplets:build_triplets",
    "classifiers": "codeflow.commands.classifiers:classifiers",
    "classify": "codeflow.commands.classifiers:classify",
    "clean-cc": "codeflow.commands.clean_cc:clean_cc",
    "code": "codeflow.commands.code:code",
    "decontaminate": "codeflow.commands.decontaminate:decontaminate",
    "dedup": "codeflow.commands.dedup:dedup",
    "demo": "codeflow.commands.demo:demo",
    "fim": "codeflow.commands.fim:fim",
    "ingest": "codeflow.commands.ingest:ingest",
    "schema": "codeflow.commands.schema:schema",
    "tokenizer": "codeflow.commands.tokenizer:tokenizer",
    "train": "codeflow.commands.train:train",
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

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            from codeflow.commands.common import spread_multiple_values

            rest = spread_multiple_values(command, rest)
        return name, command, rest


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
    except CodeflowError as e:  # a usage or environment problem (2), or units that failed on I/O (1)
        click.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
        return e.exit_code
    except PermissionError as e:  # a lake or input the credentials may not touch (local or object store)
        where = f" {e.filename}" if e.filename else ""
        click.echo(f"error: permission denied{where}: {e.strerror or e} (check the credentials / access rights "
                   "for the input and --out URLs)", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
