"""Options every stage command shares, so flags read the same across stages."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import click

from codeflow.pipelines import SPARK_EXTRA


def engine_available(ctx: click.Context, param: click.Parameter, engine: str) -> str:
    """``--engine spark`` without pyspark installed is a user error (exit 2), not a traceback mid-run."""
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise click.BadParameter(SPARK_EXTRA, ctx, param)
    return engine


ENGINE_OPTION = click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
                             callback=engine_available,
                             help="local: datatrove LocalPipelineExecutor; spark: the active Spark master "
                                  "(local[*] unless run under spark-submit).")
WORKERS_OPTION = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                              help="Parallel worker processes for the local engine.")
OVERWRITE_OPTION = click.option("--overwrite", is_flag=True,
                                help="Delete OUT first instead of resuming into it.")


def engine_options(f: Callable) -> Callable:
    return ENGINE_OPTION(WORKERS_OPTION(OVERWRITE_OPTION(f)))
