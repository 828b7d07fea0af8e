"""Input discovery and reading: paths, directories and globs of Parquet / JSONL files into units.

Unreadable input (a truncated or non-Parquet file among good ones) becomes a reject with reason
``unreadable_input`` for that file; the other files of the run go on. I/O errors that may pass (a throttled
object store, a network blip: any other ``OSError``) are not input problems: they propagate, and the runner
retries the unit and finally leaves it uncommitted (``codeflow.runner``).
"""

from __future__ import annotations

import gzip
import posixpath
import zlib
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from codeflow.errors import CodeflowError
from codeflow.lake import to_fs
from codeflow.records import rejects_table, stable_id
from codeflow.stage import Source, StageResult

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".jsonl.gz", ".ndjson")


class InputError(CodeflowError):
    """A usage problem with the inputs (missing path, nothing to read): a one-line error for the user."""


def expand_inputs(paths: Sequence[str], suffixes: Sequence[str] = TABLE_SUFFIXES) -> list[str]:
    """Files named by paths, directories (recursive, lake bookkeeping skipped) or globs, sorted.

    Sorted full URLs make unit order, and so shard numbering, the same on every engine and run.
    """
    if not paths:
        raise InputError("no input given")
    found: list[str] = []
    for p in paths:
        fs, root = to_fs(p)
        protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        prefix = "" if protocol in ("file", "local") else f"{protocol}://"
        if any(ch in p for ch in "*?["):
            matches = fs.glob(root)
        elif fs.isdir(root):
            matches = [f for f in fs.find(root) if not _is_bookkeeping(f, root)]
        elif fs.exists(root):
            matches = [root]
        else:
            raise InputError(f"input path does not exist: {p}")
        found.extend(prefix + m for m in matches if m.endswith(tuple(suffixes)))
    if not found:
        raise InputError(f"no input files ({', '.join(suffixes)}) under: {' '.join(paths)}")
    return sorted(set(found))


def _is_bookkeeping(path: str, root: str) -> bool:
    rel = posixpath.relpath(path, root)
    return any(part.startswith(("_", ".")) or part == "rejects" for part in rel.split("/"))


def read_table_file(url: str) -> pa.Table:
    fs, path = to_fs(url)
    with fs.open(path, "rb", compression="infer") as f:
        if path.endswith(".parquet"):
            return pq.read_table(f)
        return pajson.read_json(f)


# What a file that cannot be parsed raises: pyarrow's ArrowInvalid / ArrowTypeError / ArrowNotImplementedError
# are ValueError / TypeError / NotImplementedError; a damaged gzip stream raises BadGzipFile (an OSError, but
# not a transient one), EOFError or zlib.error; a path that is gone or is a folder is missing input.
BAD_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, NotImplementedError, UnicodeError, EOFError, zlib.error, gzip.BadGzipFile,
    FileNotFoundError, IsADirectoryError, NotADirectoryError,
)


class TableSource(Source):
    """Reads one Parquet or JSONL file per unit."""

    stage_name = "input"

    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        try:
            table = read_table_file(unit)
        except BAD_INPUT_ERRORS as e:  # transient OSErrors propagate: the runner retries the unit
            detail = f"{type(e).__name__}: {e}".splitlines()[0][:500]
            rej = rejects_table([{"id": stable_id(unit, prefix="file:"), "stage": self.stage_name,
                                  "reason": "unreadable_input", "detail": detail, "source": unit}])
            yield StageResult(pa.table({}), rej, {"unreadable_input": 1})
            return
        yield table
