"""Options every stage command shares, so flags read the same across stages."""

from __future__ import annotations

from collections.abc import Callable

import click

ENGINE_OPTION = click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
                             help="local: datatrove LocalPipelineExecutor; spark: the active Spark master "
                                  "(local[*] unless run under spark-submit).")
WORKERS_OPTION = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                              help="Parallel worker processes for the local engine.")
OVERWRITE_OPTION = click.option("--overwrite", is_flag=True,
                                help="Delete OUT first instead of resuming into it.")


def engine_options(f: Callable) -> Callable:
    return ENGINE_OPTION(WORKERS_OPTION(OVERWRITE_OPTION(f)))
