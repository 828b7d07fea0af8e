"""The clustering SQL of ``codeflow.dedup.components`` on duckdb: one machine, bounded memory.

duckdb runs every join, group-by and window out of core: past ``memory_limit`` it spills to a temp folder,
and intermediate tables live in an on-disk database file, so memory stays within the budget however many
candidate pairs there are. Decisions are written as ``unit=N/*.parquet`` like exact dedup's.
"""

from __future__ import annotations

import os
import tempfile

import duckdb

from codeflow.dedup.components import cluster
from codeflow.dedup.grouping import _is_local, _protocol, sql_str
from codeflow.lake import StageOutput


class DuckDialect:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def materialize(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {query}")

    def scalar(self, query: str) -> int:
        return int(self.con.execute(query).fetchone()[0])

    def row(self, query: str) -> tuple:
        return tuple(self.con.execute(query).fetchone())

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def rename(self, old: str, new: str) -> None:
        self.con.execute(f"ALTER TABLE {old} RENAME TO {new}")

    def agree(self, x: str, y: str, k: int) -> str:
        return f"list_sum(list_transform(range(1, len({x}) + 1), lambda i: ({x}[i] = {y}[i])::BIGINT))"

    def dot(self, x: str, y: str, k: int) -> str:
        return f"list_sum(list_transform(range(1, len({x}) + 1), lambda i: {x}[i] * {y}[i]))"


def cluster_local(out: StageOutput, bands_glob: str, docs_glob: str, decisions_dir: str, *, verify: str | None,
                  need: int, k: int, memory_limit: str = "2GB", threads: int | None = None) -> dict[str, int]:
    """Cluster the signatures under ``bands_glob``/``docs_glob`` and write decisions; returns counters."""
    local = _is_local(out)
    scratch = out.work_path("duckdb") if local else tempfile.mkdtemp(prefix="codeflow-cc-")
    os.makedirs(scratch, exist_ok=True)
    db_file = os.path.join(scratch, "components.duckdb")
    if os.path.exists(db_file):
        os.remove(db_file)  # a leftover from a killed run: the phase restarts from its inputs
    con = duckdb.connect(db_file)
    try:
        con.execute(f"SET memory_limit={sql_str(memory_limit)}")
        con.execute(f"SET temp_directory={sql_str(os.path.join(scratch, 'tmp'))}")
        con.execute("SET preserve_insertion_order=false")
        if threads:
            con.execute(f"SET threads={int(threads)}")
        prefix = ""
        if not local:
            con.register_filesystem(out.fs)
            prefix = f"{_protocol(out)}://"
        con.execute(f"CREATE VIEW bands AS SELECT * FROM read_parquet({sql_str(prefix + bands_glob)})")
        con.execute(f"CREATE VIEW docs AS SELECT * FROM read_parquet({sql_str(prefix + docs_glob)})")
        stats = cluster(DuckDialect(con), verify, need, k)
        out.fs.makedirs(decisions_dir, exist_ok=True)
        if stats["dropped"]:
            con.execute(f"""COPY (SELECT unit, rowno AS "row", id, keeper_id, group_size FROM decisions)
                            TO {sql_str(prefix + decisions_dir)}
                            (FORMAT parquet, PARTITION_BY (unit), OVERWRITE_OR_IGNORE true)""")
        return stats
    finally:
        con.close()
        if os.path.exists(db_file):
            os.remove(db_file)
