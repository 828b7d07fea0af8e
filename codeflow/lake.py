"""The data lake: shard layout over any fsspec URL, atomic commits, manifests and resume.

Layout of one stage output (``{lake}/{stage}/{run}``)::

    part-00000.parquet              kept records
    rejects/part-00000.parquet      id, stage, reason, detail, source
    _committed/part-00000.json      per-shard commit marker with the shard's stats (written last)
    _stats.json, _manifest.json, _SUCCESS

Why a marker per shard: a shard is a kept file *and* a rejects file, and two renames are not one atomic
step. Each file is written to a temp name and renamed (so a half-written file is never visible), and the
marker written after both is what makes the shard count as done. A crash between the renames leaves no
marker, so the re-run rewrites the shard, which is safe because stages are deterministic.
"""

from __future__ import annotations

import io
import json
import posixpath
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from codeflow.errors import CodeflowError
from codeflow.records import REJECT_SCHEMA

DEFAULT_LAKE = "./lake"
# Fixed writer settings: the same table must give the same bytes on every engine and every run.
PARQUET_OPTIONS: dict[str, Any] = dict(compression="zstd", compression_level=3, use_dictionary=True,
                                       write_statistics=True, data_page_size=1 << 20, row_group_size=64 * 1024)


# Files and folders only codeflow writes at the top of an output: their presence makes a folder deletable.
CODEFLOW_MARKS = frozenset({"_manifest.json", "_committed", "_work", "_SUCCESS", "_stats.json", "_funnel.json",
                            "_code"})


class LakeError(CodeflowError):
    """A lake-level problem a user must fix (config mismatch with existing output, unreadable manifest)."""


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def to_fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """fsspec filesystem and path for a URL (local paths become absolute)."""
    fs, path = url_to_fs(url)
    return fs, path


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialize with the fixed settings; schema metadata kept, no pandas block."""
    buf = io.BytesIO()
    pq.write_table(table, buf, **PARQUET_OPTIONS)
    return buf.getvalue()


def atomic_write_bytes(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write to a temp name beside ``path`` then rename: readers see the old file or the whole new one.

    On object stores a PUT is already atomic and ``mv`` is copy+delete; on local and POSIX-like
    filesystems the rename is atomic.
    """
    parent = posixpath.dirname(path)
    fs.makedirs(parent, exist_ok=True)
    tmp = posixpath.join(parent, f".tmp-{uuid.uuid4().hex}-{posixpath.basename(path)}")
    with fs.open(tmp, "wb") as f:
        f.write(data)
    try:
        fs.mv(tmp, path)
    except Exception:
        fs.rm(tmp)
        raise


def atomic_write_json(fs: fsspec.AbstractFileSystem, path: str, obj: Any) -> None:
    atomic_write_bytes(fs, path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_write_parquet(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table) -> None:
    atomic_write_bytes(fs, path, parquet_bytes(table))


def code_version() -> str:
    from codeflow import __version__

    return __version__


@dataclass
class StageOutput:
    """One stage's output folder in the lake, addressed by URL (local path, ``file://``, ``s3://``, ...)."""

    url: str

    def __post_init__(self) -> None:
        self.fs, self.root = to_fs(self.url)

    # ---- paths -------------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def kept_path(self, index: int) -> str:
        return self.path(shard_name(index))

    def rejects_path(self, index: int) -> str:
        return self.path("rejects", shard_name(index))

    def marker_path(self, index: int) -> str:
        return self.path("_committed", shard_name(index).replace(".parquet", ".json"))

    def work_path(self, *parts: str) -> str:
        """Scratch space for multi-phase stages (dedup keys, decisions); removed on success."""
        return self.path("_work", *parts)

    # ---- shard commits -----------------------------------------------------------------------------
    def is_committed(self, index: int) -> bool:
        return self.fs.exists(self.marker_path(index))

    def read_marker(self, index: int) -> dict:
        with self.fs.open(self.marker_path(index), "rb") as f:
            return json.load(f)

    def commit_shard(self, index: int, kept: pa.Table, rejects: pa.Table, stats: Mapping[str, Any],
                     unit: str, config_hash: str) -> dict:
        """Write kept rows and rejects atomically, then the marker that makes the shard count as done."""
        if rejects.schema != REJECT_SCHEMA:
            rejects = rejects.cast(REJECT_SCHEMA)
        atomic_write_parquet(self.fs, self.kept_path(index), kept)
        atomic_write_parquet(self.fs, self.rejects_path(index), rejects)
        reasons = Counter(rejects.column("reason").to_pylist())
        marker = {"index": index, "unit": unit, "config_hash": config_hash, "kept": kept.num_rows,
                  "rejected": rejects.num_rows, "reasons": dict(sorted(reasons.items())),
                  "stats": dict(sorted(stats.items()))}
        atomic_write_json(self.fs, self.marker_path(index), marker)
        return marker

    def count_committed(self) -> int:
        """Number of committed shards, from the folder listing alone (cheap enough to poll for progress)."""
        folder = self.path("_committed")
        if not self.fs.exists(folder):
            return 0
        return sum(1 for p in self.fs.ls(folder, detail=False)
                   if p.endswith(".json") and not posixpath.basename(p).startswith(".tmp-"))

    def committed_markers(self) -> list[dict]:
        folder = self.path("_committed")
        if not self.fs.exists(folder):
            return []
        out = []
        for p in sorted(self.fs.ls(folder, detail=False)):
            if p.endswith(".json") and not posixpath.basename(p).startswith(".tmp-"):
                with self.fs.open(p, "rb") as f:
                    out.append(json.load(f))
        return sorted(out, key=lambda m: m["index"])

    # ---- run-level files ---------------------------------------------------------------------------
    def check_config(self, config_hash: str, units: list[str] | tuple[str, ...] | None = None) -> None:
        """Refuse to resume into an output written with another config or another input list.

        A committed shard is skipped on resume, so it must be the shard of the same unit under the same
        config; otherwise the run would silently mix two runs.
        """
        for m in self.committed_markers():
            if m["config_hash"] != config_hash:
                raise LakeError(f"{self.url} holds shards written with another config; "
                                f"use --overwrite or another --out")
            if units is not None and (m["index"] >= len(units) or m["unit"] != units[m["index"]]):
                now = units[m["index"]] if m["index"] < len(units) else "nothing"
                raise LakeError(f"{self.url} holds shard {m['index']} of another input ({m['unit']}; now {now}); "
                                f"use --overwrite or another --out")

    def clear(self) -> None:
        """Delete the output (``--overwrite``); the writer's lease file (codeflow.lease) stays in place.

        Only a folder codeflow wrote (one of ``CODEFLOW_MARKS`` in it) or an empty one is deleted: ``--out`` naming
        a folder of the user's own data by mistake is refused, never wiped.
        """
        if not self.fs.exists(self.root):
            return
        if not self._written_by_codeflow():
            names = {posixpath.basename(p.rstrip("/")) for p in self.fs.ls(self.root, detail=False)}
            sample = ", ".join(sorted(names - {"_lease.json"})[:3])
            raise LakeError(f"--overwrite: {self.url} was not written by codeflow (it holds {sample}); "
                            f"refusing to delete it")
        lease = self.path("_lease.json")
        if not self.fs.exists(lease):
            self.fs.rm(self.root, recursive=True)
            return
        for p in self.fs.ls(self.root, detail=False):
            if posixpath.basename(p.rstrip("/")) != "_lease.json":
                self.fs.rm(p, recursive=True)

    def _written_by_codeflow(self) -> bool:
        """Empty (but for our lease), or a codeflow mark at the top or one level down (clean-cc's documents/)."""
        entries = self.fs.ls(self.root, detail=True)
        names = {posixpath.basename(e["name"].rstrip("/")) for e in entries}
        if not names - {"_lease.json"} or names & CODEFLOW_MARKS:
            return True
        for e in entries:
            if e.get("type") == "directory":
                sub = {posixpath.basename(p.rstrip("/")) for p in self.fs.ls(e["name"], detail=False)}
                if sub & CODEFLOW_MARKS:
                    return True
        return False

    def finalize(self, stage: str, n_shards: int, schema: pa.Schema, config: Mapping[str, Any],
                 stats: Mapping[str, Any], markers: list[dict] | None = None) -> None:
        """Write _stats.json, _manifest.json and finally _SUCCESS (the run-level commit).

        ``markers``: the committed markers when the caller has just read them (else they are read here).
        """
        markers = self.committed_markers() if markers is None else markers
        shards = [{"index": m["index"], "unit": m["unit"], "path": shard_name(m["index"]),
                   "rejects": f"rejects/{shard_name(m['index'])}", "rows": m["kept"], "rejected": m["rejected"]}
                  for m in markers]
        atomic_write_json(self.fs, self.path("_stats.json"), dict(stats))
        manifest = {"stage": stage, "n_shards": n_shards, "shards": shards, "config": dict(config),
                    "schema": schema_doc(schema), "code_version": code_version()}
        atomic_write_json(self.fs, self.path("_manifest.json"), manifest)
        if self.fs.exists(self.path("_work")):
            self.fs.rm(self.path("_work"), recursive=True)
        self._remove_orphan_temps()
        atomic_write_bytes(self.fs, self.path("_SUCCESS"), b"")

    def _remove_orphan_temps(self) -> None:
        """Temp files left by a writer that was killed mid-write (they were never visible as shards)."""
        for folder in (self.root, self.path("rejects"), self.path("_committed")):
            if self.fs.exists(folder):
                for p in self.fs.ls(folder, detail=False):
                    if posixpath.basename(p).startswith(".tmp-"):
                        self.fs.rm(p)

    def is_complete(self) -> bool:
        return self.fs.exists(self.path("_SUCCESS"))

    # ---- reading back ------------------------------------------------------------------------------
    def read_kept(self, columns: Iterable[str] | None = None) -> pa.Table:
        return self._read_many([self.kept_path(m["index"]) for m in self.committed_markers()], columns)

    def read_rejects(self) -> pa.Table:
        return self._read_many([self.rejects_path(m["index"]) for m in self.committed_markers()], None,
                               REJECT_SCHEMA)

    def _read_many(self, paths: list[str], columns, schema: pa.Schema | None = None) -> pa.Table:
        tables = []
        for p in paths:
            with self.fs.open(p, "rb") as f:
                tables.append(pq.read_table(f, columns=list(columns) if columns else None))
        if not tables:
            return schema.empty_table() if schema is not None else pa.table({})
        return pa.concat_tables(tables, promote_options="default")


def schema_doc(schema: pa.Schema) -> list[dict[str, str]]:
    """The schema as JSON for the manifest: name, type and doc of each field."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable,
             "doc": (f.metadata or {}).get(b"doc", b"").decode()} for f in schema]
