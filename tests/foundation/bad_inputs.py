"""The bad-input matrix of issue 21: each case writes small real files and says what must come out.

A case returns the ids of the good rows (they must all be kept), the reject reasons it must produce (a
Counter), and how many input rows it holds (``rows_in`` in ``_stats.json``).
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class Case:
    good: set[str]
    reasons: Counter
    rows_in: int
    details: dict[str, str] = field(default_factory=dict)  # reason -> text its detail must contain


def good_rows(prefix: str, n: int = 3) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"good text number {i} of {prefix}"} for i in range(n)]


def jsonl_line(row: dict) -> bytes:
    return (json.dumps(row) + "\n").encode()


def _ids(rows: list[dict]) -> set[str]:
    return {r["id"] for r in rows}


def invalid_utf8_jsonl(d: Path) -> Case:
    rows = good_rows("u")
    (d / "b.jsonl").write_bytes(jsonl_line(rows[0]) + b'{"id":"bad","text":"x \xff"}\n' + jsonl_line(rows[1])
                                + jsonl_line(rows[2]))
    return Case(_ids(rows), Counter(decode_error=1), 4, {"decode_error": "line 2"})


def invalid_utf8_parquet(d: Path) -> Case:
    texts = pa.array([b"fine one", b"x \xff y", b"fine two"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["p0", "bad", "p2"], "text": texts}), d / "b.parquet")
    return Case({"p0", "p2"}, Counter(decode_error=1), 3, {"decode_error": "'text'"})


def invalid_utf8_other_column(d: Path) -> Case:
    urls = pa.array([b"https://a", b"https://\xfe", b"https://c"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["q0", "bad", "q2"], "text": ["one doc", "two doc", "three doc"], "url": urls}),
                   d / "u.parquet")
    return Case({"q0", "q2"}, Counter(decode_error=1), 3, {"decode_error": "'url'"})


def bad_json_line(d: Path) -> Case:
    rows = good_rows("j")
    (d / "j.jsonl").write_bytes(jsonl_line(rows[0]) + b"this is not json\n" + jsonl_line(rows[1])
                                + b"[1, 2, 3]\n" + jsonl_line(rows[2]))
    return Case(_ids(rows), Counter(bad_json_line=2), 5, {"bad_json_line": "line 2"})


def type_drift(d: Path) -> Case:
    rows = [{**r, "stars": i} for i, r in enumerate(good_rows("t", 4))]
    drift = {"id": "drift", "text": "stars turned into a string", "stars": "many"}
    (d / "t.jsonl").write_bytes(b"".join(jsonl_line(r) for r in rows[:2]) + jsonl_line(drift)
                                + b"".join(jsonl_line(r) for r in rows[2:]))
    return Case(_ids(rows), Counter(bad_type=1), 5, {"bad_type": "'stars'"})


def long_line(d: Path) -> Case:
    rows = good_rows("l")
    rows[1]["text"] = "long " * 700_000  # 3.5 MB on one line: past pyarrow's default JSON block
    (d / "l.jsonl").write_bytes(b"".join(jsonl_line(r) for r in rows))
    return Case(_ids(rows), Counter(), 3)


def long_line_with_bad_line(d: Path) -> Case:
    rows = good_rows("m")
    rows[0]["text"] = "longer " * 500_000
    (d / "m.jsonl").write_bytes(jsonl_line(rows[0]) + b"{broken\n" + jsonl_line(rows[1]) + jsonl_line(rows[2]))
    return Case(_ids(rows), Counter(bad_json_line=1), 4)


def lone_surrogate(d: Path) -> Case:
    rows = good_rows("s")
    (d / "s.jsonl").write_bytes(jsonl_line(rows[0]) + b'{"id":"bad","text":"half \\ud800 pair"}\n'
                                + jsonl_line(rows[1]) + jsonl_line(rows[2]))
    return Case(_ids(rows), Counter(decode_error=1), 4, {"decode_error": "surrogate"})


def bom_jsonl(d: Path) -> Case:
    rows = good_rows("bom")
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b"".join(jsonl_line(r) for r in rows))
    return Case(_ids(rows), Counter(), 3)


def null_text(d: Path) -> Case:
    rows = good_rows("n")
    (d / "n.jsonl").write_bytes(b"".join(jsonl_line(r) for r in rows) + jsonl_line({"id": "bad", "text": None}))
    return Case(_ids(rows), Counter(null_text=1), 4)


def text_int(d: Path) -> Case:
    pq.write_table(pa.table({"id": ["i0", "i1"], "text": [1, 2]}), d / "i.parquet")
    return Case(set(), Counter(bad_type=2), 2, {"bad_type": "int64"})


def text_list(d: Path) -> Case:
    pq.write_table(pa.table({"id": ["l0", "l1"], "text": [["a"], ["b", "c"]]}), d / "tl.parquet")
    return Case(set(), Counter(bad_type=2), 2, {"bad_type": "list"})


def text_struct(d: Path) -> Case:
    pq.write_table(pa.table({"id": ["st0"], "text": [{"a": "x"}]}), d / "ts.parquet")
    return Case(set(), Counter(bad_type=1), 1, {"bad_type": "struct"})


def missing_text_column(d: Path) -> Case:
    pq.write_table(pa.table({"id": ["x0", "x1", "x2"], "body": ["a", "b", "c"]}), d / "nocol.parquet")
    return Case(set(), Counter(missing_column=3), 3)


def unreadable_among_good(d: Path) -> Case:
    rows = good_rows("g")
    pq.write_table(pa.Table.from_pylist(rows), d / "good.parquet")
    (d / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    return Case(_ids(rows), Counter(unreadable_input=1), 4)


def fifo_among_good(d: Path) -> Case:
    rows = good_rows("f")
    (d / "good.jsonl").write_bytes(b"".join(jsonl_line(r) for r in rows))
    os.mkfifo(d / "pipe.jsonl")
    return Case(_ids(rows), Counter(not_a_file=1), 4)


def truncated_gzip(d: Path) -> Case:
    rows = good_rows("z", 200)
    blob = gzip.compress(b"".join(jsonl_line(r) for r in rows))
    (d / "z.jsonl.gz").write_bytes(blob[: len(blob) * 2 // 3])
    # The lines before the damage are kept; which ones depends on the cut, so only a lower bound is checked.
    return Case(set(), Counter(unreadable_input=1), -1)


def empty_file(d: Path) -> Case:
    rows = good_rows("e")
    (d / "empty.jsonl").write_bytes(b"")
    (d / "e.jsonl").write_bytes(b"".join(jsonl_line(r) for r in rows))
    return Case(_ids(rows), Counter(), 3)


def json_array_file(d: Path) -> Case:
    rows = good_rows("arr")
    (d / "arr.json").write_text(json.dumps(rows, indent=2))  # a .json file that is one array, not JSONL
    return Case(_ids(rows), Counter(), 3)


DATA_CASES: dict[str, Callable[[Path], Case]] = {f.__name__: f for f in (
    invalid_utf8_jsonl, invalid_utf8_parquet, invalid_utf8_other_column, bad_json_line, type_drift, long_line,
    long_line_with_bad_line, lone_surrogate, bom_jsonl, null_text, text_int, text_list, text_struct,
    missing_text_column, unreadable_among_good, fifo_among_good, truncated_gzip, empty_file, json_array_file)}
