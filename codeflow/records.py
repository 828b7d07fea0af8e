"""Arrow schemas of every record kind codeflow writes, with field docs.

The schema is the contract between stages and with users: duckdb, polars or HF datasets read our shards
without importing codeflow, so every field carries its documentation in the Parquet metadata
(``field.metadata[b"doc"]``). Stages add their own schemas here so there is one place to look.

Ids are stable: a hash of the content plus its provenance, so a re-run of the same input gives the same ids
and downstream joins (dedup decisions, decontamination hits) stay valid across runs.

**The id rule for input rows** (``ingest``, exact / MinHash / semantic dedup; ``validate_text`` below): a row
keeps its own non-null ``id`` (the configured id column); a row without one gets
``stable_id(text, f"{unit}#{row}")``, where ``unit`` is the input file's URL as the run received it (local
paths absolute, as ``codeflow.sources.expand_inputs`` returns them) and ``row`` its 0-based row number. The id
depends on the row and its own file only, never on which other files are in the run; moving a file changes the
ids of its id-less rows, so give rows an ``id`` column when they must survive moves. A reject's ``source`` is
the same ``{unit}#{row}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


def field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    """An Arrow field whose documentation travels with the Parquet file."""
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


def stable_id(*parts: str | bytes | None, prefix: str = "") -> str:
    """A short, stable id from content and provenance.

    blake2b over the parts, each length-prefixed so ("ab", "c") and ("a", "bc") differ. 16 bytes of
    digest (32 hex chars) keeps collisions negligible at trillions of records.
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if part is None:
            b = b"\x00<null>"
        elif isinstance(part, str):
            b = part.encode("utf-8", "surrogatepass")
        else:
            b = part
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return prefix + h.hexdigest()


REJECT_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Id of the rejected record (the input id when it had one).", nullable=False),
        field("stage", pa.string(), "Stage that rejected it, e.g. 'dedup_exact'.", nullable=False),
        field("reason", pa.string(), "Machine-readable reason, e.g. 'exact_duplicate', 'decode_error'.",
              nullable=False),
        field("detail", pa.string(), "Human-readable detail: the keeper id, the parse error position, ..."),
        field("source", pa.string(), "Where the record came from: input file, WARC record id, repo@sha."),
    ],
    metadata={"codeflow.kind": "reject"},
)

DOCUMENT_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Stable id: hash of text and source.", nullable=False),
        field("text", pa.string(), "Document text, valid UTF-8.", nullable=False),
        field("source", pa.string(), "Provenance: input file and row, or WARC record id."),
        field("url", pa.string(), "Origin URL when known."),
        field("language", pa.string(), "ISO 639-1 language code when known."),
        field("metadata", pa.string(), "Stage-specific extras as a JSON object string."),
    ],
    metadata={"codeflow.kind": "document"},
)

CODE_FILE_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Stable id: hash of repo, commit, path and content.", nullable=False),
        field("repo", pa.string(), "Repository name (or origin of an extracted code block)."),
        field("commit", pa.string(), "Commit sha the file was read at."),
        field("path", pa.string(), "Path inside the repository."),
        field("language", pa.string(), "Language from the registry (codeflow.code.languages)."),
        field("content", pa.string(), "File content, valid UTF-8.", nullable=False),
        field("size", pa.int64(), "Content size in bytes."),
        field("sha", pa.string(), "Git blob sha of the content when read from git."),
        field("source", pa.string(), "Provenance pointer: repo@sha:path or lake record id."),
        # Metrics from `codeflow code` (null when a row did not come from it), kept for later filters.
        field("lines", pa.int64(), "Number of lines."),
        field("node_count", pa.int64(), "Tree-sitter nodes in the syntax tree (named and anonymous)."),
        field("max_depth", pa.int64(), "Maximum depth of the syntax tree (root = 0)."),
        field("function_count", pa.int64(), "Function-level nodes (functions, methods, classes, closures) as "
                                             "listed in the language registry's FIM 'function' level."),
        field("comment_ratio", pa.float64(), "Bytes inside comment nodes / file bytes."),
        field("max_line_length", pa.int64(), "Longest line, in characters."),
        field("mean_line_length", pa.float64(), "Mean line length, in characters (newlines excluded)."),
        field("alnum_ratio", pa.float64(), "Alphanumeric characters / all characters."),
    ],
    metadata={"codeflow.kind": "code_file"},
)


def field_docs(schema: pa.Schema) -> dict[str, str]:
    """Field name -> documentation, for ``codeflow schema`` and the docs."""
    return {f.name: (f.metadata or {}).get(b"doc", b"").decode() for f in schema}


def rejects_table(rows: list[dict]) -> pa.Table:
    """Build a reject table from dicts with the reject fields (missing fields become null)."""
    return pa.Table.from_pylist(rows, schema=REJECT_SCHEMA)

FIM_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Stable id: hash of the file id, level and seed.", nullable=False),
        field("file_id", pa.string(), "Id of the code-file record the sample was made from."),
        field("repo", pa.string(), "Repository name."),
        field("path", pa.string(), "Path of the target file inside the repository."),
        field("language", pa.string(), "Registry language of the target file (codeflow.code.languages)."),
        field("level", pa.string(), "'file' or 'repo' (repo level prepends same-repo context files).",
              nullable=False),
        field("split_kind", pa.string(), "Applied split: char, line, ast_expression, ast_statement, ast_function, "
              "or none (plain sample, probability 1 - fim_rate).", nullable=False),
        field("requested_kind", pa.string(), "Split kind drawn before fallbacks; differs from split_kind when "
              "the file had no node of the asked AST level (or no grammar)."),
        field("prefix", pa.string(), "Text before the middle; prefix + middle + suffix == file content.",
              nullable=False),
        field("middle", pa.string(), "The span to fill in (empty for plain samples).", nullable=False),
        field("suffix", pa.string(), "Text after the middle.", nullable=False),
        field("context_paths", pa.list_(pa.string()), "Repo level: paths of the context files in the order "
              "rendered (least relevant first, most relevant next to the target); empty at file level."),
        field("text", pa.string(), "The rendered training text with special tokens (codeflow.fim.tokens).",
              nullable=False),
        field("seed", pa.int64(), "Seed the sample was drawn with; (file_id, seed, level) fixes it."),
    ],
    metadata={"codeflow.kind": "fim_sample"},
)


_PATH_CONTENT = pa.struct([pa.field("path", pa.string()), pa.field("content", pa.string())])

TRIPLET_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Stable id: hash of repo, start and end commit.", nullable=False),
        field("repo", pa.string(), "Repository name (the list's <TAB>name, else derived from the path/URL).",
              nullable=False),
        field("source", pa.string(), "The repository as given in the list: local path or clone URL."),
        field("start_commit", pa.string(), "Sha of R_old: the start commit, sampled in the lifecycle window.",
              nullable=False),
        field("end_commit", pa.string(), "Sha of R_new: the endpoint found by the forward search.", nullable=False),
        field("start_percentile", pa.float64(), "Lifecycle percentile of the start: first-parent rank / (n - 1)."),
        field("end_percentile", pa.float64(), "Lifecycle percentile of the endpoint."),
        field("n_commits", pa.int32(), "First-parent commits after the start up to and including the endpoint."),
        field("messages", pa.list_(pa.string()),
              "Cleaned messages of those commits, oldest first (trailers and merge boilerplate removed)."),
        field("files_old", pa.list_(_PATH_CONTENT),
              "Every text file the patch touches, as at the start commit (added files absent), sorted by path."),
        field("patch", pa.string(), "Unified git diff start -> end over those files; `git apply` accepts it and it "
              "turns files_old into files_new exactly.", nullable=False),
        field("files_new", pa.list_(_PATH_CONTENT),
              "The same paths at the endpoint: deleted files absent, added files present."),
        field("context_files", pa.list_(_PATH_CONTENT),
              "Bounded set of related files unchanged between start and end (imports, then same-directory files)."),
        field("skipped_files", pa.list_(pa.struct([pa.field("path", pa.string()), pa.field("reason", pa.string())])),
              "Changed files left out of the patch and why: binary, lfs, non_utf8, too_large, special, lock, "
              "vendored, generated."),
        field("stats", pa.struct([
            pa.field("files", pa.int32()), pa.field("added", pa.int32()), pa.field("removed", pa.int32()),
            pa.field("source_files", pa.int32()), pa.field("test_files", pa.int32()),
            pa.field("languages", pa.list_(pa.string())), pa.field("patch_tokens", pa.int32()),
            pa.field("walked", pa.int32()), pa.field("text_tokens", pa.int32()),
        ]), "Patch stats: files, added and removed lines, source and test files, languages (registry names), "
            "patch and text tokens (the --tokenizer's, else chars / 2.5), commits walked by the search."),
        field("score", pa.float64(), "Endpoint score (docs/triplets.md): 0.30 band + 0.25 message + 0.20 tests + "
              "0.10 source + 0.10 locality + 0.05 focus."),
        field("score_parts", pa.struct([pa.field(k, pa.float64()) for k in
                                        ("band", "message", "tests", "source", "locality", "focus")]),
              "The score's components, each in 0..1."),
        field("text", pa.string(), "The triplet rendered for training with the template in docs/triplets.md "
              "(repo, context files, files before, messages, patch, files after).", nullable=False),
    ],
    metadata={"codeflow.kind": "triplet"},
)


# clean-cc: documents from Common Crawl use DOCUMENT_SCHEMA (id = stable_id(WARC-Record-ID, URL, prefix="cc-"),
# source = WARC-Record-ID, metadata = JSON with warc_file, warc_offset, warc_date, http_status, content_type,
# charset, charset_source, language_score, n_code_blocks, prose_chars). Code blocks get their own records:
CODE_BLOCK_SCHEMA = pa.schema(
    [
        field("id", pa.string(), "Stable id: hash of the document id, the block's index and its content.",
              nullable=False),
        field("doc_id", pa.string(), "Id of the page's document (in documents/ or, if the text was rejected, "
              "in documents/rejects/; code blocks are kept even when the prose is not).", nullable=False),
        field("url", pa.string(), "URL of the page."),
        field("warc_record_id", pa.string(), "WARC-Record-ID of the response record."),
        field("warc_file", pa.string(), "Base name of the WARC file."),
        field("index_in_page", pa.int32(), "0-based position among the page's code blocks (document order).",
              nullable=False),
        field("language", pa.string(), "Guessed programming language (codeflow.web.codelang names), null if unsure."),
        field("language_source", pa.string(), "How the language was found: 'class' (class/data-lang attribute), "
              "'content' (signatures) or 'none'.", nullable=False),
        field("classes", pa.string(), "Class attributes of the block and its wrappers that the guess looked at."),
        field("tag", pa.string(), "'pre' or 'code' (a multi-line <code> outside <pre>)."),
        field("content", pa.string(), "The code exactly as the page shows it: entities decoded, whitespace and "
              "indentation untouched, line-number gutters removed.", nullable=False),
        field("n_lines", pa.int32(), "Number of lines of content."),
        field("size", pa.int64(), "Content size in UTF-8 bytes."),
    ],
    metadata={"codeflow.kind": "code_block"},
)


# ---- input rows with a text column: the one validation and id rule ---------------------------------------------
TEXT_COLUMNS = ("text", "content")


def pick_text_column(table: pa.Table, configured: str | None) -> str | None:
    """The configured text column if present, else ``text``, else ``content``; None when there is none."""
    if configured:
        return configured if configured in table.column_names else None
    for name in TEXT_COLUMNS:
        if name in table.column_names:
            return name
    return None


def row_source(unit: str, row: int) -> str:
    """Provenance of an input row: ``{unit}#{row}`` (see the id rule in the module docstring)."""
    return f"{unit}#{row}"


@dataclass
class ValidatedBatch:
    """Rows of one unit that have valid text, with their ids; the others are rejects."""

    table: pa.Table            # the valid rows, text column as string, ``id`` column present
    rows: pa.Array             # original row numbers of the valid rows
    rejects: pa.Table          # rejects with reason null_text / decode_error / bad_type / missing_column
    rows_in: int


def validate_text(table: pa.Table, unit: str, stage: str, text_column: str | None = None,
                  id_column: str = "id") -> ValidatedBatch:
    """Split a unit's rows into valid documents and rejects, and give every valid row its id (the id rule).

    Rejects: ``missing_column`` (one per row, so ``rows_in == kept + rejected`` holds for that file too),
    ``null_text``, ``decode_error`` (binary text that is not UTF-8, with the byte offset), ``bad_type`` (text that
    is a number, list or struct), each labelled with ``stage``.
    """
    col = pick_text_column(table, text_column)
    if col is None:
        want = text_column or "text/content"
        detail = f"no {want!r} column in {table.column_names[:20]}"[:500]
        rej = rejects_table([{"id": stable_id(row_source(unit, row), prefix="row:"), "stage": stage,
                              "reason": "missing_column", "detail": detail, "source": row_source(unit, row)}
                             for row in range(table.num_rows)])
        return ValidatedBatch(pa.table({"id": pa.array([], pa.string())}), pa.array([], pa.int64()), rej,
                              table.num_rows)
    raw = table.column(col).combine_chunks()
    fast = _validate_clean(table, raw, col, id_column)
    if fast is not None:
        return fast
    ids_in = table.column(id_column).to_pylist() if id_column in table.column_names else None
    texts: list[str | None] = []
    keep_rows: list[int] = []
    ids: list[str] = []
    rejects: list[dict] = []
    for row, value in enumerate(raw.to_pylist()):
        given = None if ids_in is None or ids_in[row] is None else str(ids_in[row])
        src = row_source(unit, row)
        if value is None:
            rejects.append({"id": given or stable_id(src, prefix="row:"), "stage": stage, "reason": "null_text",
                            "detail": f"null {col!r}", "source": src})
            continue
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as e:
                rejects.append({"id": given or stable_id(value, src), "stage": stage, "reason": "decode_error",
                                "detail": f"invalid UTF-8 at byte {e.start}", "source": src})
                continue
        if not isinstance(value, str):
            rejects.append({"id": given or stable_id(src, prefix="row:"), "stage": stage, "reason": "bad_type",
                            "detail": f"{col!r} is {raw.type}, not a string", "source": src})
            continue
        texts.append(value)
        keep_rows.append(row)
        ids.append(given or stable_id(value, src))
    valid = table.take(pa.array(keep_rows, pa.int64())) if keep_rows else table.slice(0, 0)
    valid = valid.set_column(valid.column_names.index(col), col, pa.array(texts, pa.string()))
    if id_column in valid.column_names:
        valid = valid.set_column(valid.column_names.index(id_column), "id", pa.array(ids, pa.string()))
    else:
        valid = valid.add_column(0, "id", pa.array(ids, pa.string()))
    return ValidatedBatch(valid, pa.array(keep_rows, pa.int64()), rejects_table(rejects), table.num_rows)


def _validate_clean(table: pa.Table, raw: pa.Array, col: str, id_column: str) -> ValidatedBatch | None:
    """The common case without a Python loop: string text and string ids, no nulls. Same result as the loop."""
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)) or raw.null_count:
        return None
    if id_column not in table.column_names:
        return None
    ids = table.column(id_column).combine_chunks()
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) or ids.null_count:
        return None
    valid = table.set_column(table.column_names.index(col), col, raw.cast(pa.string()))
    valid = valid.set_column(valid.column_names.index(id_column), "id", ids.cast(pa.string()))
    return ValidatedBatch(valid, pa.array(np.arange(table.num_rows, dtype=np.int64)), rejects_table([]),
                          table.num_rows)
