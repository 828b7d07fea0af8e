"""Options every stage command shares, so flags read the same across stages, and the checks every run of a
stage command gets before any work: the output is a writable folder held by one writer (codeflow.lease),
and a process-local filesystem (``memory://``) is not used with several processes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import click


def engine_available(ctx: click.Context, param: click.Parameter, engine: str) -> str:
    """``--engine spark`` without pyspark installed is a user error (exit 2), not a traceback mid-run."""
    from codeflow.engines import EngineError, check_available

    try:
        check_available(engine)
    except EngineError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    return engine


ENGINE_OPTION = click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
                             callback=engine_available,
                             help="local: datatrove LocalPipelineExecutor; spark: the active Spark master "
                                  "(local[*] unless run under spark-submit).")
WORKERS_OPTION = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                              help="Parallel worker processes for the local engine.")
OVERWRITE_OPTION = click.option("--overwrite", is_flag=True,
                                help="Delete OUT first instead of resuming into it.")
BREAK_LEASE_OPTION = click.option("--break-lease", is_flag=True,
                                  help="Take over OUT from a writer that died (its lease is stale); a live "
                                       "writer is never displaced.")

# Options whose values are paths on the run's filesystem (checked for process-local URLs).
PATH_PARAMS = ("out", "inputs", "warcs", "repos", "repo_list")


def engine_options(f: Callable) -> Callable:
    """--engine/--workers/--overwrite/--break-lease; the command body runs holding the lease of ``--out``."""

    @functools.wraps(f)
    def run(*args, **kwargs):
        from codeflow.lease import hold
        from codeflow.sources import current_output

        break_lease = kwargs.pop("break_lease", False)
        check_process_local(kwargs)
        out = kwargs.get("out")
        if not out:
            return f(*args, **kwargs)
        token = current_output.set(out)  # input expansion leaves OUT out and refuses inputs inside it
        try:
            with hold(out, break_stale=break_lease):
                return f(*args, **kwargs)
        finally:
            current_output.reset(token)

    return ENGINE_OPTION(WORKERS_OPTION(OVERWRITE_OPTION(BREAK_LEASE_OPTION(run))))


def _paths(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list)):
        yield from (v for v in value if isinstance(v, str))


def check_process_local(params: dict) -> None:
    """``memory://`` lives in one process: each worker process (or Spark executor) would see its own empty
    store, so the run would lose its output. Refuse it, for any path option, before any work."""
    from codeflow.engines import get_engine
    from codeflow.lease import refuse_process_local

    paths = [p for name in PATH_PARAMS for p in _paths(params.get(name))]
    refuse_process_local(paths, get_engine(params.get("engine", "local"), params.get("workers", 1)))


def spread_multiple_values(command: click.Command, args: list[str]) -> list[str]:
    """``--input a b c`` -> ``--input a --input b --input c`` for options that take several values.

    The shell expands an unquoted glob (``--warc crawl/*.warc.gz``) into many words after one option, as
    ``cp`` and ``spark-submit`` users expect to work. Only for commands without positional arguments (so no
    word is ambiguous) and only for ``multiple=True`` options; words after ``--`` are left alone.
    """
    if any(isinstance(p, click.Argument) for p in command.params):
        return args
    multi: dict[str, str] = {}
    for p in command.params:
        if isinstance(p, click.Option) and p.multiple and not p.is_flag:
            for opt in p.opts:
                multi[opt] = p.opts[-1] if p.opts[-1].startswith("--") else opt
    out: list[str] = []
    current: str | None = None
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            out.extend(args[i:])
            break
        if word.startswith("-") and word != "-":
            current = multi.get(word.split("=", 1)[0])
            out.append(word)
            if current is not None and "=" not in word and i + 1 < len(args):
                out.append(args[i + 1])  # the option's first value, whatever it looks like
                i += 1
        elif current is not None:
            out.extend([current, word])
        else:
            out.append(word)
        i += 1
    return out
