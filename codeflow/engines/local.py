"""The embedded engine: units as datatrove ``LocalPipelineExecutor`` tasks, global phases in duckdb.

duckdb runs every join, group-by and window out of core: past ``memory_limit`` it spills to a temp folder,
and materialized tables live in an on-disk database file beside the output, so a global phase's memory is
bounded by the budget, not by the corpus.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from codeflow.engines import Engine, check_memory_limit, sql_string
from codeflow.lake import to_fs


class DuckDialect:
    """duckdb over a connection; URLs of remote lakes go through the lake's fsspec filesystem."""

    def __init__(self, con: duckdb.DuckDBPyConnection, prefix: str = "") -> None:
        self.con = con
        self.prefix = prefix  # "s3://" etc. for a registered fsspec filesystem, "" for local paths

    def _url(self, path: str) -> str:
        return sql_string(self.prefix + path)

    def register_parquet(self, name: str, folder_url: str) -> None:
        glob = posixpath.join(to_fs(folder_url)[1], "part-*.parquet")
        self.con.execute(f"CREATE OR REPLACE VIEW {self.ident(name)} AS SELECT * FROM read_parquet({self._url(glob)})")

    def materialize(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {self.ident(name)} AS {query}")

    def scalar(self, query: str) -> int:
        return int(self.con.execute(query).fetchone()[0])

    def row(self, query: str) -> tuple:
        return tuple(self.con.execute(query).fetchone())

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {self.ident(name)}")

    def rename(self, old: str, new: str) -> None:
        self.con.execute(f"ALTER TABLE {self.ident(old)} RENAME TO {self.ident(new)}")

    def write_partitioned(self, query: str, folder_url: str, partition_by: str) -> None:
        fs, path = to_fs(folder_url)
        fs.makedirs(path, exist_ok=True)
        self.con.execute(f"COPY ({query}) TO {self._url(path)} "
                         f"(FORMAT parquet, PARTITION_BY ({self.ident(partition_by)}), OVERWRITE_OR_IGNORE true)")

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def agree(self, x: str, y: str, k: int) -> str:
        return f"list_sum(list_transform(range(1, len({x}) + 1), lambda i: ({x}[i] = {y}[i])::BIGINT))"

    def dot(self, x: str, y: str, k: int) -> str:
        return f"list_sum(list_transform(range(1, len({x}) + 1), lambda i: {x}[i] * {y}[i]))"


class LocalEngine(Engine):
    """``--engine local``: datatrove processes on this machine, duckdb for SQL."""

    name = "local"

    @property
    def in_process(self) -> bool:
        return self.workers == 1  # one worker runs the units in-line (run_units_local)

    def map_units(self, job: Callable[[int], Any], n: int, *, logs: str | None = None) -> None:
        from codeflow.pipelines.datatrove.executor import run_units_local

        logging_dir = logs or tempfile.mkdtemp(prefix="codeflow-logs-")
        run_units_local(job, n, self.workers, logging_dir=logging_dir)

    @contextmanager
    def sql(self, out_url: str, memory_limit: str = "2GB") -> Iterator[DuckDialect]:
        fs, root = to_fs(out_url)
        protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        local = protocol in ("file", "local")
        # On-disk tables and spill files next to the output; remote lakes use a local temp folder.
        scratch = posixpath.join(root, "_work", "duckdb") if local else tempfile.mkdtemp(prefix="codeflow-sql-")
        if os.path.exists(scratch):
            shutil.rmtree(scratch)  # a leftover of a killed run: the phase restarts from its inputs
        os.makedirs(scratch)
        con = duckdb.connect(os.path.join(scratch, "phase.duckdb"))
        try:
            con.execute(f"SET memory_limit={sql_string(check_memory_limit(memory_limit))}")
            con.execute(f"SET temp_directory={sql_string(os.path.join(scratch, 'tmp'))}")
            con.execute("SET preserve_insertion_order=false")
            if self.workers > 1:
                con.execute(f"SET threads={int(self.workers)}")
            prefix = ""
            if not local:
                con.register_filesystem(fs)
                prefix = f"{protocol}://"
            yield DuckDialect(con, prefix)
        finally:
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
