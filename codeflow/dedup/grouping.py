"""The global phase of dedup on one machine: keeper selection in duckdb, which spills to disk.

Spark's counterpart is ``codeflow.pipelines.spark.dedup``; both write decisions as hive partitions
``unit=N/*.parquet`` with columns ``row, id, keeper_id, group_size`` and must agree row for row.
"""

from __future__ import annotations

import duckdb

from codeflow.lake import StageOutput

KEEPER_SQL = """
SELECT unit, "row", id, keeper_id, group_size FROM (
  SELECT unit, "row", id,
         first_value(id) OVER w AS keeper_id,
         row_number() OVER w AS rn,
         count(*) OVER (PARTITION BY hash) AS group_size
  FROM read_parquet({keys})
  WINDOW w AS (PARTITION BY hash ORDER BY id, unit, "row")
) WHERE rn > 1
"""


def group_local(out: StageOutput, keys_glob: str, decisions_dir: str, memory_limit: str = "2GB") -> int:
    """Write keeper decisions for every non-keeper row; returns the number of rows to drop."""
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit={sql_str(memory_limit)}")
        if _is_local(out):  # spill next to the output; remote lakes use duckdb's default temp folder
            con.execute(f"SET temp_directory={sql_str(out.work_path('duckdb_tmp'))}")
        con.execute("SET preserve_insertion_order=false")
        if not _is_local(out):
            con.register_filesystem(out.fs)
        prefix = "" if _is_local(out) else f"{_protocol(out)}://"
        keys = sql_str(f"{prefix}{keys_glob}")
        query = KEEPER_SQL.format(keys=keys)
        n = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
        out.fs.makedirs(decisions_dir, exist_ok=True)
        if n:
            con.execute(f"COPY ({query}) TO {sql_str(prefix + decisions_dir)} "
                        "(FORMAT parquet, PARTITION_BY (unit), OVERWRITE_OR_IGNORE true)")
        return int(n)
    finally:
        con.close()


def sql_str(value: str) -> str:
    """A SQL string literal: paths may hold a quote (``--out "o'x"``), which must not end the literal."""
    return "'" + value.replace("'", "''") + "'"


def _protocol(out: StageOutput) -> str:
    p = out.fs.protocol
    return p[0] if isinstance(p, (tuple, list)) else p


def _is_local(out: StageOutput) -> bool:
    return _protocol(out) in ("file", "local")
