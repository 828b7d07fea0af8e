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


# Written into every folder a run creates (absent or empty before): what makes it safe to delete later.
OUTPUT_MARKER = "_codeflow.json"
# The one-writer lease of an output (codeflow.lease); it never counts as content of the folder.
LEASE_NAME = "_lease.json"


class LakeError(CodeflowError):
    """A lake-level problem a user must fix (config mismatch with existing output, unreadable manifest)."""


def is_codeflow_output(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    """A folder codeflow wrote: it holds our marker, shard commit markers or a manifest."""
    return any(fs.exists(posixpath.join(path, name)) for name in (OUTPUT_MARKER, "_committed", "_manifest.json"))


def _entries(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    """What a folder holds besides the writer's lease file (which the run itself created a moment ago)."""
    return [p for p in fs.ls(path, detail=False) if posixpath.basename(p.rstrip("/")) != LEASE_NAME]


def safe_remove(url: str) -> None:
    """Delete ``url`` recursively only if it is absent, empty, or a codeflow output; refuse anything else.

    ``--overwrite`` and ``demo --fresh`` take a user-typed path: ``--out .`` must not delete the working
    directory, nor ``--out ~/data`` a folder of someone's files. A lease file (``codeflow.lease``: the running
    writer's own) is left in place, so the output stays held while it is cleared.
    """
    fs, path = to_fs(url)
    if not fs.exists(path):
        return
    if not fs.isdir(path):
        raise LakeError(f"refusing to delete {url}: it is a file, not a codeflow output folder")
    entries = _entries(fs, path)
    if entries and not is_codeflow_output(fs, path):
        raise LakeError(f"refusing to delete {url}: it is not empty and not a codeflow output "
                        f"(no {OUTPUT_MARKER}, _committed/ or _manifest.json); remove it yourself or use another "
                        f"--out")
    if not fs.exists(posixpath.join(path, LEASE_NAME)):
        fs.rm(path, recursive=True)
        return
    for p in entries:
        fs.rm(p, recursive=True)


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

    def kept_url(self, index: int) -> str:
        """URL of kept shard ``index`` (with the protocol), e.g. to feed it to the next stage as an input."""
        return self.url.rstrip("/") + "/" + shard_name(index)

    def kept_urls(self) -> list[str]:
        """URLs of the committed kept shards, in unit order: the inputs of a next stage."""
        return [self.kept_url(m["index"]) for m in self.committed_markers()]

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
        """Delete this output (``--overwrite``); refuses a folder codeflow did not create (``safe_remove``).
        The writer's lease file (codeflow.lease) stays in place."""
        safe_remove(self.url)

    def claim(self, stage: str) -> None:
        """Mark a new (absent or empty) folder as this stage's output, so a later ``clear`` may delete it.

        A non-empty folder without the marker is left unmarked: codeflow writes into it, but never deletes it.
        """
        marker = self.path(OUTPUT_MARKER)
        if self.fs.exists(marker):
            return
        if self.fs.exists(self.root) and _entries(self.fs, self.root):
            if not is_codeflow_output(self.fs, self.root):
                return
        atomic_write_json(self.fs, marker, {"codeflow_output": stage})

    def missing_units(self, n_shards: int, markers: list[dict] | None = None) -> list[int]:
        """Unit indices in ``range(n_shards)`` without a commit marker."""
        markers = self.committed_markers() if markers is None else markers
        done = {m["index"] for m in markers}
        return [i for i in range(n_shards) if i not in done]

    def finalize(self, stage: str, n_shards: int, schema: pa.Schema, config: Mapping[str, Any],
                 stats: Mapping[str, Any], markers: list[dict] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        """Write _stats.json, _manifest.json and finally _SUCCESS (the run-level commit).

        ``markers``: the committed markers when the caller has just read them (else they are read here).
        """
        markers = self.committed_markers() if markers is None else markers
        missing = self.missing_units(n_shards, markers)
        if missing:
            raise LakeError(f"{self.url}: {len(missing)} of {n_shards} units are not committed "
                            f"(first: {missing[0]}); not writing _SUCCESS -- re-run to retry them")
        shards = [{"index": m["index"], "unit": m["unit"], "path": shard_name(m["index"]),
                   "rejects": f"rejects/{shard_name(m['index'])}", "rows": m["kept"], "rejected": m["rejected"]}
                  for m in markers]
        atomic_write_json(self.fs, self.path("_stats.json"), dict(stats))
        manifest = {"stage": stage, "n_shards": n_shards, "shards": shards, "config": dict(config),
                    "schema": schema_doc(schema), "code_version": code_version(), **dict(extra or {})}
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
