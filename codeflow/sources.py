"""Input discovery and reading: paths, directories and globs of Parquet / JSONL files into units.

Reading is where every table source meets the outside world, so it is also where bad input is caught, once,
for every stage (docs/inputs.md lists what each kind becomes):

- a file that cannot be read at all (truncated Parquet, not a table, a FIFO) is one ``unreadable_input`` /
  ``not_a_file`` reject, and the other files of the run go on;
- JSONL is read line-aware: a line that is not a JSON object is one ``bad_json_line`` reject naming its line
  number, a value whose type differs from the rest of its column is one ``bad_type`` reject, and the file's
  other lines are kept; long lines are fine;
- text that is not valid UTF-8 (pyarrow's JSON and Parquet readers do not check) is one ``decode_error``
  reject per row, so no invalid string ever reaches a shard.

Rows are numbered by their position among the file's readable records (``file#k``); a JSONL reject names
the file line (1-based) in its detail.

Bad input and I/O trouble are told apart by where the error comes from: a file's bytes are fetched first, and
an ``OSError`` while fetching them (a throttled object store, a network blip) is not an input problem -- it
propagates, and the runner retries the unit and finally leaves it uncommitted (``codeflow.runner``). Whatever
goes wrong *parsing* bytes already in memory (a corrupt Parquet page, a damaged gzip stream) is the file's
reject.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from codeflow.errors import CodeflowError
from codeflow.lake import to_fs
from codeflow.records import rejects_table, stable_id
from codeflow.stage import Source, StageResult

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".jsonl.gz", ".ndjson")
# Source-level rejects are counted under this key; the runner adds it to a stage's own ``rows_in``.
INPUT_REJECTS = "input_rejects"
_MAX_BLOCK = (1 << 31) - 2  # pyarrow's JSON block size is an int32; larger files go line by line
# A compressed stream that is damaged (not a transient failure): bad gzip magic, a cut or corrupt member.
DAMAGED_STREAM_ERRORS: tuple[type[BaseException], ...] = (gzip.BadGzipFile, EOFError, zlib.error)


# The ``--out`` of the command being run: set by codeflow.commands.common around every stage command.
current_output: ContextVar[str | None] = ContextVar("codeflow_current_output", default=None)


class InputError(CodeflowError):
    """A usage problem with the inputs (missing path, nothing to read): a one-line error for the user."""


def _protocol_prefix(fs) -> str:
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return "" if protocol in ("file", "local") else f"{protocol}://"


def _normalized(root: str) -> str:
    """``in//x`` and ``in/../in/x`` name one file: normalise so it is read once."""
    return posixpath.normpath(root) if root else root


def expand_inputs(paths: Sequence[str], suffixes: Sequence[str] = TABLE_SUFFIXES,
                  exclude: str | None = None) -> list[str]:
    """Files named by paths, directories (recursive, lake bookkeeping skipped) or globs, sorted.

    Sorted full URLs make unit order, and so shard numbering, the same on every engine and run. A path that
    exists is taken literally even when it holds glob characters (``data[1].jsonl``). ``exclude`` is the
    run's output: files under it are never inputs (a re-run must not read its own output back), and an
    input equal to or inside the output is refused. It defaults to ``current_output``, which every stage
    command sets to its ``--out`` (codeflow.commands.common), so no command can forget it.
    """
    if not paths:
        raise InputError("no input given")
    exclude = exclude if exclude is not None else current_output.get()
    out_fs, out_root = to_fs(exclude) if exclude else (None, None)
    out_root = _normalized(out_root) if out_root else None
    found: list[str] = []
    for p in paths:
        fs, root = to_fs(p)
        root = _normalized(root)
        prefix = _protocol_prefix(fs)
        same_fs = out_fs is not None and _protocol_prefix(out_fs) == prefix
        if same_fs and _inside(root, out_root):
            raise InputError(f"input {p} is the output folder or inside it ({exclude}); choose another --out")
        if fs.exists(root):
            matches = [f for f in fs.find(root) if not _is_bookkeeping(f, root)] if fs.isdir(root) else [root]
        elif any(ch in p for ch in "*?["):
            matches = fs.glob(root)
        else:
            raise InputError(f"input path does not exist: {p}")
        matches = [_normalized(m) for m in matches]
        if same_fs:
            matches = [m for m in matches if not _inside(m, out_root)]
        found.extend(prefix + m for m in matches if m.endswith(tuple(suffixes)))
    if not found:
        raise InputError(f"no input files ({', '.join(suffixes)}) under: {' '.join(paths)}")
    return sorted(set(found))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _is_bookkeeping(path: str, root: str) -> bool:
    rel = posixpath.relpath(path, root)
    return any(part.startswith(("_", ".")) or part == "rejects" for part in rel.split("/"))


# ---- reading ---------------------------------------------------------------------------------------------


@dataclass
class ReadResult:
    """One file read: the good rows as a table, and one reject dict per record that could not be used."""

    table: pa.Table
    rejects: list[dict] = field(default_factory=list)


class UnreadableInput(Exception):
    """The file as a whole cannot be read (reason + detail become its one reject)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def read_table_file(url: str) -> pa.Table:
    """The good rows of a Parquet/JSONL file (rejects dropped): for callers that only want the data."""
    return read_input_file(url, "input").table


def read_input_file(url: str, stage: str) -> ReadResult:
    """Read one Parquet/JSONL file; raises ``UnreadableInput`` when nothing in it can be read."""
    fs, path = to_fs(url)
    info = fs.info(path)
    if info.get("type") not in ("file", None):
        raise UnreadableInput("not_a_file", f"{url} is a {info.get('type')} (FIFO, socket or device), not a file")
    if path.endswith(".parquet"):
        with fs.open(path, "rb") as f:
            data = f.read()  # I/O errors here are transient: they propagate
        try:  # the bytes are in memory: anything pyarrow raises now (OSError included) is a damaged file
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError, ValueError) as e:
            raise UnreadableInput("unreadable_input", _one_line(e)) from e
        return _check_utf8(table, url, stage)
    try:
        with fs.open(path, "rb", compression="infer") as f:
            data = f.read()
    except DAMAGED_STREAM_ERRORS as e:
        return _read_jsonl_stream(fs, path, url, stage, e)
    return read_jsonl_bytes(data, url, stage)


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".splitlines()[0][:500]


def read_jsonl_bytes(data: bytes, url: str, stage: str) -> ReadResult:
    """JSONL: pyarrow's reader when the whole file is clean, else line by line (one reject per bad line)."""
    table = _arrow_jsonl(data)
    if table is not None:
        return ReadResult(table)
    parsed = _parse_lines(data.splitlines(), url, stage)
    if not parsed.rows and url.endswith(".json"):  # a .json file may be one JSON array of objects
        whole = _json_array(data)
        if whole is not None:
            return _rows_to_result(_Parsed(rows=whole, line_nos=list(range(1, len(whole) + 1))), url, stage)
    if parsed.rows and parsed.rejects:  # only some lines were bad: let pyarrow type the good ones
        table = _arrow_jsonl(b"\n".join(parsed.raw), threaded=False)
        if table is not None and table.num_rows == len(parsed.rows):
            return ReadResult(table, parsed.rejects)
    return _rows_to_result(parsed, url, stage)


def _json_array(data: bytes) -> list[dict] | None:
    try:
        value = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value) and _lone_surrogate(value) is None:
        return value
    return None


def _arrow_jsonl(data: bytes, threaded: bool = True) -> pa.Table | None:
    """pyarrow's JSON reader, or None when it cannot take the file as it is (a bad line, a type that changes,
    invalid UTF-8, which it does not check itself)."""
    if not data.strip() or len(data) >= _MAX_BLOCK:
        return None
    attempts = [pajson.ReadOptions(use_threads=True)] if threaded else []  # pyarrow defaults: 1 MB blocks
    # One block for the whole file: type inference sees every line, and long lines never straddle blocks.
    attempts.append(pajson.ReadOptions(block_size=max(len(data) + 1, 1 << 20), use_threads=False))
    for opts in attempts:
        try:
            table = pajson.read_json(io.BytesIO(data), read_options=opts)
            table.validate(full=True)
            return table
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
    return None


def _read_jsonl_stream(fs, path: str, url: str, stage: str, first_error: BaseException) -> ReadResult:
    """A compressed file that fails part way (truncated gzip): keep the lines before the damage."""
    lines: list[bytes] = []
    err: BaseException = first_error
    try:
        with fs.open(path, "rb", compression="infer") as f:
            for line in f:
                lines.append(line)
    except DAMAGED_STREAM_ERRORS as e:
        err = e
    if lines and not lines[-1].endswith(b"\n"):
        lines.pop()  # a cut line is part of the damage
    parsed = _parse_lines(lines, url, stage)
    parsed.rejects.append({"id": stable_id(url, "tail", prefix="file:"), "stage": stage, "reason": "unreadable_input",
                           "detail": f"after line {len(lines)}: {_one_line(err)}", "source": url})
    if not parsed.rows and len(parsed.rejects) == 1:
        raise UnreadableInput("unreadable_input", _one_line(err))
    return _rows_to_result(parsed, url, stage)


@dataclass
class _Parsed:
    rows: list[dict] = field(default_factory=list)
    line_nos: list[int] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # the good lines as read
    rejects: list[dict] = field(default_factory=list)


def _line_reject(url: str, stage: str, line_no: int, reason: str, detail: str) -> dict:
    return {"id": stable_id(url, str(line_no), prefix="line:"), "stage": stage, "reason": reason,
            "detail": f"line {line_no}: {detail}"[:500], "source": f"{url}:{line_no}"}


def _parse_lines(lines: list[bytes], url: str, stage: str) -> _Parsed:
    out = _Parsed()
    for i, raw in enumerate(lines, start=1):
        if i == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 BOM is not part of the first record
        if not raw.strip():
            continue
        try:  # the fast parser takes every good line; a bad one is parsed again below for a precise reason
            obj = orjson.loads(raw)
            if isinstance(obj, dict):
                out.rows.append(obj)
                out.line_nos.append(i)
                out.raw.append(raw)
                continue
        except orjson.JSONDecodeError:
            pass
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            out.rejects.append(_line_reject(url, stage, i, "decode_error", f"invalid UTF-8 at byte {e.start}"))
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            out.rejects.append(_line_reject(url, stage, i, "bad_json_line", f"{e.msg} at column {e.colno}"))
            continue
        except RecursionError:
            out.rejects.append(_line_reject(url, stage, i, "bad_json_line", "nested too deeply"))
            continue
        if not isinstance(obj, dict):
            out.rejects.append(_line_reject(url, stage, i, "bad_json_line",
                                            f"a JSON {type(obj).__name__}, not an object"))
            continue
        bad = _lone_surrogate(obj) if b"\\u" in raw else None  # only an escape can make a lone surrogate
        if bad is not None:
            out.rejects.append(_line_reject(url, stage, i, "decode_error", f"lone surrogate in field {bad!r}"))
            continue
        out.rows.append(obj)
        out.line_nos.append(i)
        out.raw.append(raw)
    return out


def _lone_surrogate(obj, key: str = "") -> str | None:
    """Name of the first field holding a string that cannot be UTF-8 (a lone ``\\ud800`` escape), else None."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return key or "?"
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _lone_surrogate(k, key) if isinstance(k, str) else None
            found = found or _lone_surrogate(v, k)
            if found:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = _lone_surrogate(v, key)
            if found:
                return found
    return None


def _kind(value) -> str | None:
    """The JSON kind of a value, numbers as one kind (ints and floats share a column)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array"}[type(value)]


def _rows_to_result(parsed: _Parsed, url: str, stage: str) -> ReadResult:
    """Build a table from parsed rows; a value whose kind differs from its column's is that row's reject."""
    rows, line_nos, rejects = parsed.rows, parsed.line_nos, list(parsed.rejects)
    if not rows:
        return ReadResult(pa.table({}), rejects)
    kinds: dict[str, Counter] = {}
    first: dict[str, dict[str, int]] = {}
    for r in rows:
        for k, v in r.items():
            kd = _kind(v)
            if kd is not None:
                kinds.setdefault(k, Counter())[kd] += 1
                first.setdefault(k, {}).setdefault(kd, len(first.get(k, {})))
    # The column's kind: the most common one (ties: the one seen first).
    want = {k: max(c, key=lambda kd, k=k: (c[kd], -first[k][kd])) for k, c in kinds.items()}
    keep_rows: list[dict] = []
    for r, line_no in zip(rows, line_nos, strict=True):
        drift = next(((k, _kind(v)) for k, v in r.items() if _kind(v) not in (None, want[k])), None)
        if drift is not None:
            k, kd = drift
            rejects.append(_line_reject(url, stage, line_no, "bad_type",
                                        f"field {k!r} is a {kd}; the file's other lines have a {want[k]}"))
            continue
        keep_rows.append(r)
    columns = list(dict.fromkeys(k for r in keep_rows for k in r))
    arrays = {}
    for k in columns:
        values = [r.get(k) for r in keep_rows]
        try:
            arrays[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # Nested values whose inner types drift, or integers beyond 64 bits: keep them as JSON text.
            arrays[k] = pa.array([None if v is None else json.dumps(v, sort_keys=True) for v in values], pa.string())
    table = pa.table(arrays) if arrays else pa.table({"_empty": pa.nulls(len(keep_rows))}).drop(["_empty"])
    return ReadResult(table, rejects)


def _check_utf8(table: pa.Table, url: str, stage: str) -> ReadResult:
    """Rows holding a string that is not valid UTF-8 become ``decode_error`` rejects (Parquet is not checked)."""
    try:
        table.validate(full=True)
        return ReadResult(table)
    except pa.ArrowInvalid:
        pass
    bad: dict[int, str] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for row, detail in _invalid_rows(col):
            bad.setdefault(row, f"invalid UTF-8 in column {name!r}{detail}")
    if not bad:  # invalid for another reason than text: not ours to repair
        raise UnreadableInput("unreadable_input", "Parquet data failed validation")
    ids = table.column("id").combine_chunks() if "id" in table.column_names else None
    unusable_ids = _bad_id_rows(ids) if ids is not None else set()
    rejects = []
    for row in sorted(bad):
        given = None
        if ids is not None and row not in unusable_ids:
            given = ids[row].as_py()
        rejects.append({"id": str(given) if given is not None else stable_id(url, str(row), prefix="row:"),
                        "stage": stage, "reason": "decode_error", "detail": bad[row][:500],
                        "source": f"{url}#{row}"})
    keep = [i for i in range(table.num_rows) if i not in bad]
    return ReadResult(table.take(pa.array(keep, pa.int64())), rejects)


def _bad_id_rows(ids: pa.Array) -> set[int]:
    """Rows whose id is itself invalid UTF-8 (the reject then gets a made-up id)."""
    return {row for row, _ in _invalid_rows(ids)} if _is_stringish(ids.type) else set()


def _is_stringish(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _invalid_rows(col: pa.Array) -> Iterator[tuple[int, str]]:
    """(row, detail) of the values of ``col`` that hold invalid UTF-8."""
    if _is_stringish(col.type):
        binary = col.cast(pa.large_binary()) if not pa.types.is_string_view(col.type) else col.cast(pa.binary())
        for row, value in enumerate(binary.to_pylist()):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as e:
                yield row, f" at byte {e.start}"
        return
    for row in range(len(col)):  # nested (list / struct) strings: check value by value
        try:
            col.slice(row, 1).validate(full=True)
        except pa.ArrowInvalid:
            yield row, ""


class TableSource(Source):
    """Reads one Parquet or JSONL file per unit: a ``StageResult`` with the file's input rejects, then its rows."""

    stage_name = "input"

    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        try:
            result = read_input_file(unit, self.stage_name)
        except UnreadableInput as e:
            yield input_rejects_result([{"id": stable_id(unit, prefix="file:"), "stage": self.stage_name,
                                         "reason": e.reason, "detail": e.detail[:500], "source": unit}])
            return
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:  # gone since it was listed
            yield input_rejects_result([{"id": stable_id(unit, prefix="file:"), "stage": self.stage_name,
                                         "reason": "unreadable_input", "detail": _one_line(e), "source": unit}])
            return
        if result.rejects:
            yield input_rejects_result(result.rejects)
        yield result.table


def input_rejects_result(rejects: list[dict]) -> StageResult:
    """Rejects made while reading, counted as input rows (``input_rejects``) so rows_in == kept + rejected."""
    stats = Counter({INPUT_REJECTS: len(rejects)})
    for r in rejects:
        stats[r["reason"]] += 1
    return StageResult(pa.table({}), rejects_table(rejects), stats)
