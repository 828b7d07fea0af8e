"""Real code for the FIM tests: the bundled multi-language sample repo (every registry language) and stdlib
Python files, as CODE_FILE_SCHEMA rows."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.code.languages import language_for_path
from codeflow.demo import sample_path
from codeflow.records import CODE_FILE_SCHEMA, stable_id

SAMPLE_REPO = Path(sample_path("code", "repo"))
STDLIB_FILES = ("json/decoder.py", "textwrap.py", "difflib.py", "string/__init__.py", "shlex.py")


def code_row(repo: str, path: str, content: str, language: str | None = None) -> dict:
    return {"id": stable_id(repo, path, content, prefix="file:"), "repo": repo, "commit": "0" * 40, "path": path,
            "language": language if language is not None else language_for_path(path, content.split("\n", 1)[0]),
            "content": content, "size": len(content.encode()), "sha": None, "source": f"{repo}:{path}"}


def sample_rows(repo: str = "sample") -> list[dict]:
    rows = []
    for p in sorted(SAMPLE_REPO.rglob("*")):
        if p.is_file():
            rows.append(code_row(repo, p.relative_to(SAMPLE_REPO).as_posix(), p.read_text(encoding="utf-8")))
    return rows


def stdlib_rows(repo: str = "cpython") -> list[dict]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    return [code_row(repo, f"Lib/{rel}", (lib / rel).read_text(encoding="utf-8")) for rel in STDLIB_FILES
            if (lib / rel).exists()]


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CODE_FILE_SCHEMA)


def write_shard(path: os.PathLike, rows: list[dict]) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table(rows), str(path))
    return str(path)
