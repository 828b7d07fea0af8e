"""Shared test data: the bundled multi-language sample repository as a dict of files."""

from __future__ import annotations

from pathlib import Path

from codeflow.demo import sample_path

SAMPLE_REPO = Path(sample_path("code", "repo"))


def sample_files() -> dict[str, bytes]:
    """path -> bytes of every file in the bundled sample repo (real, valid code in every registry language)."""
    return {p.relative_to(SAMPLE_REPO).as_posix(): p.read_bytes() for p in sorted(SAMPLE_REPO.rglob("*"))
            if p.is_file()}


def column_map(table, key: str, value: str) -> dict:
    """{row[key]: row[value]} for an Arrow table."""
    return dict(zip(table.column(key).to_pylist(), table.column(value).to_pylist(), strict=True))
