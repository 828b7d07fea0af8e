"""The ``code`` stage: candidate files (from git or from the lake) -> validated code-file rows + rejects.

Two sources feed one stage, so both inputs are judged by exactly the same rules:

- ``RepoSource``: a unit is one line of a repo list. Files at HEAD are read with pygit2 straight from the
  object store (no checkout); sizes come from the object header, so a 100 MB blob is rejected without being
  inflated. A repository that cannot be opened becomes one reject (``repo_not_found``, ``not_a_repo``,
  ``empty_repo``, ``clone_failed``, ``corrupt_repo``); an unreadable object becomes one reject
  (``corrupt_object``) and the rest of the tree goes on.
- ``LakeCodeSource``: a unit is a Parquet/JSONL file of code blocks or files already in the lake (e.g. from
  ``clean-cc``); the text column, path and language label are mapped onto the same candidate rows.

Accounting: every candidate row becomes exactly one kept row or one reject, and every bad repository exactly
one reject, so rows in (files + failed repos) == kept + rejected. Kept files whose only parse errors lie in
macro token trees or preprocessor lines are counted per kind as ``tolerated.macro`` / ``tolerated.preprocessor``
(a file with both counts once under each).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from codeflow.code.languages import normalize_language
from codeflow.code.quality import CodeConfig
from codeflow.code.snippets import unprompt
from codeflow.code.validate import validate_file
from codeflow.records import CODE_FILE_SCHEMA, rejects_table, stable_id
from codeflow.repos import RepoEntry, RepoError, TreeFile, entry_commit, iter_tree, open_repo
from codeflow.sources import TableSource
from codeflow.stage import Source, Stage, StageResult

STAGE_NAME = "code"

# What a source hands the stage: one row per file (or per unreadable tree entry).
CANDIDATE_SCHEMA = pa.schema([
    pa.field("id", pa.string()),             # input id when the file came from the lake
    pa.field("repo", pa.string()),
    pa.field("commit", pa.string()),
    pa.field("path", pa.string()),
    pa.field("data", pa.large_binary()),     # null when not read (too large, link, submodule, corrupt)
    pa.field("size", pa.int64()),
    pa.field("sha", pa.string()),
    pa.field("kind", pa.string()),           # blob | link | submodule | corrupt
    pa.field("detail", pa.string()),
    pa.field("language_hint", pa.string()),  # a registry name, trusted over the path when set
    pa.field("source", pa.string()),
])

# Candidate kinds a source already knows to be rejects; the kind is the reject reason.
DIRECT_REJECTS = ("non_utf8_path", "bad_type")

METRIC_COLUMNS = ("lines", "node_count", "max_depth", "function_count", "comment_ratio", "max_line_length",
                  "mean_line_length", "alnum_ratio")


class CodeStage(Stage):
    """Validate candidate files; kept rows follow ``CODE_FILE_SCHEMA`` (content + metrics)."""

    name: ClassVar[str] = STAGE_NAME
    schema: ClassVar[pa.Schema] = CODE_FILE_SCHEMA

    def __init__(self, config: CodeConfig | None = None) -> None:
        super().__init__(config or CodeConfig())

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        cfg: CodeConfig = self.config
        kept: list[dict] = []
        rejects: list[dict] = []
        stats: Counter = Counter()
        cols = {name: batch.column(name).to_pylist() for name in CANDIDATE_SCHEMA.names}
        for i in range(batch.num_rows):
            repo, commit, path, data, size = (cols["repo"][i], cols["commit"][i], cols["path"][i],
                                              cols["data"][i], cols["size"][i])
            source = cols["source"][i] or f"{repo}@{commit}:{path}"
            if cols["kind"][i] in DIRECT_REJECTS:  # one file's reject (the kind is the reason); the rest goes on
                stats["files_in"] += 1
                rejects.append({"id": cols["id"][i] or stable_id(repo, commit, path, cols["sha"][i], prefix="path:"),
                                "stage": STAGE_NAME, "reason": cols["kind"][i], "detail": cols["detail"][i],
                                "source": source})
                continue
            v = validate_file(path, data, size if size is not None else len(data or b""), cols["kind"][i] or "blob",
                              cols["language_hint"][i], cfg, cols["detail"][i] or "")
            rid = cols["id"][i] or stable_id(repo, commit, path, data if data is not None else cols["sha"][i],
                                             prefix="")
            stats["files_in"] += 1
            stats["bytes_in"] += size or 0
            if v.reason:
                rejects.append({"id": rid, "stage": STAGE_NAME, "reason": v.reason, "detail": v.detail,
                                "source": source})
                continue
            stats["bytes_kept"] += v.metrics["bytes"]
            stats[f"lang.{v.language}"] += 1
            for kind in v.tolerated:  # kept although the grammar reported errors (in macros / directives)
                stats[f"tolerated.{kind}"] += 1
            kept.append({"id": rid, "repo": repo, "commit": commit, "path": path, "language": v.language,
                         "content": v.content, "size": v.metrics["bytes"], "sha": cols["sha"][i], "source": source,
                         **{k: v.metrics[k] for k in METRIC_COLUMNS}})
        return StageResult(pa.Table.from_pylist(kept, schema=CODE_FILE_SCHEMA), rejects_table(rejects), stats)


def split_units(entries: list[RepoEntry], parts: int) -> list[str]:
    """Units for a repo list: one per repository, or ``parts`` per repository (``unit<TAB>k/parts``).

    Splitting lets one huge repository (a monorepo) spread over many workers: part k keeps the files whose
    path hash falls in bucket k, so the parts are disjoint, cover the tree, and do not depend on the engine.
    """
    if parts <= 1:
        return [e.unit for e in entries]
    return [f"{e.unit}\t{k}/{parts}" for e in entries for k in range(parts)]


def _parse_unit(unit: str) -> tuple[RepoEntry, int, int]:
    fields = unit.split("\t")
    if len(fields) == 3 and "/" in fields[2]:
        k, n = fields[2].split("/")
        return RepoEntry.from_unit("\t".join(fields[:2])), int(k), int(n)
    return RepoEntry.from_unit(unit), 0, 1


def _in_part(path: str, k: int, n: int) -> bool:
    return n == 1 or int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                    "little") % n == k


def printable_path(path: str) -> str:
    """A git path as valid UTF-8 text: pygit2 hands non-UTF-8 bytes over as lone surrogates
    (``surrogateescape``); those bytes are shown as ``\\xNN`` escapes, so ``b\\xff.py`` names the file
    ``b<0xff>.py`` in rejects."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _repo_reject(entry: RepoEntry, e: RepoError) -> StageResult:
    rej = rejects_table([{"id": stable_id(entry.location, prefix="repo:"), "stage": STAGE_NAME, "reason": e.reason,
                          "detail": e.detail, "source": entry.location}])
    return StageResult(CODE_FILE_SCHEMA.empty_table(), rej, Counter({"repos_in": 1, "repos_rejected": 1}))


@dataclass(frozen=True)
class RepoSource(Source):
    """Files at HEAD of one repository (or one hash part of it, see ``split_units``) per unit."""

    max_bytes: int = CodeConfig.max_bytes
    files_per_batch: int = CodeConfig.files_per_batch
    cache_dir: str | None = None

    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        import pygit2

        entry, part, parts = _parse_unit(unit)
        try:
            repo = open_repo(entry, self.cache_dir)
            commit = entry_commit(repo, entry, self.cache_dir)  # the commit pinned at plan time, else HEAD
            tree = commit.tree
        except (RepoError, pygit2.GitError) as e:
            if part == 0:  # one reject per repository, however many parts it was split into
                err = e if isinstance(e, RepoError) else RepoError("corrupt_repo", f"{entry.location}: {e}")
                yield _repo_reject(entry, err)
            return
        sha = str(commit.id)
        if part == 0:
            yield StageResult(CODE_FILE_SCHEMA.empty_table(), rejects_table([]),
                              Counter({"repos_in": 1, "repos_ok": 1, "repos_shallow": int(repo.is_shallow)}))
        rows: list[dict] = []
        for item in iter_tree(repo, tree):
            if parts > 1 and not _in_part(item.path if isinstance(item, TreeFile) else item[0], part, parts):
                continue
            rows.append(self._row(repo, entry, sha, item))
            if len(rows) >= self.files_per_batch:
                yield pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)

    def _row(self, repo, entry: RepoEntry, sha: str, item) -> dict:
        import pygit2

        base = {"id": None, "repo": entry.name, "commit": sha, "language_hint": None, "detail": None, "source": None}
        if not isinstance(item, TreeFile):  # an unreadable subtree
            path, oid, err = item
            return {**base, "path": path, "data": None, "size": 0, "sha": oid, "kind": "corrupt",
                    "detail": f"tree {oid[:12]}: {type(err).__name__}: {err}"[:300]}
        row = {**base, "path": item.path, "data": None, "size": 0, "sha": item.oid, "kind": item.kind}
        shown = printable_path(item.path)
        if shown != item.path:  # git paths are bytes: one that is not UTF-8 cannot be a string column value
            row.update(path=shown, kind="non_utf8_path", detail=f"path is not UTF-8: {shown}"[:300])
            return row
        if item.kind != "blob":
            if item.kind == "link":
                row["detail"] = "symlink entry"
            else:
                row["detail"] = f"submodule at {item.oid[:12]}"
            return row
        try:
            _type, size = repo.odb.read_header(item.oid)
            row["size"] = size
            if size <= self.max_bytes:
                row["data"] = repo[item.oid].data
        except (pygit2.GitError, KeyError, ValueError) as e:  # zlib errors, missing objects: one reject, tree goes on
            row.update(kind="corrupt", data=None, detail=f"blob {item.oid[:12]}: {type(e).__name__}: {e}"[:300])
        return row


@dataclass(frozen=True)
class LakeCodeSource(Source):
    """Code blocks / files already in the lake (Parquet or JSONL), mapped onto candidate rows.

    Text from the first of ``content``, ``code``, ``text``; language label from ``language`` / ``lang`` when it
    names a registry language (else from ``path``); ``id``, ``repo`` (else ``url``, for web code blocks),
    ``commit``, ``path``, ``sha``, ``source`` are carried over when present.
    """

    text_column: str | None = None
    strip_prompts: bool = True  # interactive sessions (>>> / $) become the code they run: see code.snippets

    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        reader = TableSource()
        reader.stage_name = STAGE_NAME
        for item in reader.read(unit):
            if isinstance(item, StageResult):
                yield item
                continue
            yield self._candidates(item, unit)

    def _candidates(self, table: pa.Table, unit: str) -> pa.Table | StageResult:
        names = table.column_names
        col = self.text_column or next((c for c in ("content", "code", "text") if c in names), None)
        if col is None or col not in names:  # one reject per row, so the file's rows are all counted
            want = self.text_column or "content/code/text"
            rej = rejects_table([{"id": stable_id(unit, str(i), prefix="row:"), "stage": STAGE_NAME,
                                  "reason": "missing_column", "detail": f"no {want!r} column in {names[:12]}",
                                  "source": f"{unit}#{i}"} for i in range(table.num_rows)])
            return StageResult(CODE_FILE_SCHEMA.empty_table(), rej, Counter({"files_in": table.num_rows}))

        def get(name: str) -> list:
            return table.column(name).to_pylist() if name in names else [None] * table.num_rows

        texts = get(col)
        langs = get("language") if "language" in names else get("lang")
        ids, paths, commits, shas, sources = get("id"), get("path"), get("commit"), get("sha"), get("source")
        repos = get("repo") if "repo" in names else get("url")  # code blocks: the page they came from
        rows = []
        for i, text in enumerate(texts):
            meta = {k: v[i] for k, v in (("id", ids), ("repo", repos), ("commit", commits), ("path", paths),
                                         ("sha", shas), ("source", sources))}
            wrong = _wrong_types(meta, col, text)
            if wrong:
                rows.append({**{k: _scalar_text(v) for k, v in meta.items()}, "data": None, "size": 0,
                             "kind": "bad_type", "detail": wrong, "language_hint": None,
                             "source": _scalar_text(sources[i]) or f"{unit}#{i}"})
                continue
            meta = {k: _scalar_text(v) for k, v in meta.items()}
            ids[i], repos[i], commits[i], paths[i], shas[i], sources[i] = (
                meta["id"], meta["repo"], meta["commit"], meta["path"], meta["sha"], meta["source"])
            hint = normalize_language(langs[i]) if isinstance(langs[i], str) else None
            if self.strip_prompts and isinstance(text, str):
                text = unprompt(text, hint)
            data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
            rows.append({"id": ids[i], "repo": repos[i], "commit": commits[i], "path": paths[i], "data": data,
                         "size": len(data) if data is not None else 0, "sha": shas[i],
                         "kind": "blob" if data is not None else "corrupt",
                         "detail": None if data is not None else f"null {col}",
                         "language_hint": hint,
                         "source": sources[i] or f"{unit}#{i}"})
        return pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)


def _scalar_text(value) -> str | None:
    """Provenance columns as text: numbers become their decimal text; anything else but a string is None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _wrong_types(meta: dict, text_column: str, text) -> str | None:
    """Why a lake row cannot be a candidate (content not text/bytes, a list or struct where a name belongs)."""
    if text is not None and not isinstance(text, (str, bytes)):
        return f"{text_column!r} is a {type(text).__name__}, not a string"
    for k, v in meta.items():
        if v is not None and _scalar_text(v) is None:
            return f"{k!r} is a {type(v).__name__}, not a string"
    return None
