"""The ``fim`` map stage: validated code-file shards -> FIM samples (one per input file), file or repo level.

Input rows follow ``CODE_FILE_SCHEMA`` (id, repo, path, language, content, ...). Each input row becomes one
kept sample or one reject, so rows in = kept + rejected. Repo level needs every file of a repository in the
same unit: rows are grouped by ``repo`` *within* a batch, which holds because the code stage writes one shard
per repository (one unit per repo). A repository split over several input shards still works, each part
seeing only its own files as context.

Rejects (reason): ``missing_content`` (null), ``invalid_utf8`` (bytes that do not decode), ``empty_file``
(nothing but whitespace), ``file_too_large`` (over ``max_file_chars``), ``special_token`` (content, path or
repo name holding a special token: the sample could not be parsed back), ``bad_path`` (repo level: no path,
or a line break in it), ``missing_repo`` (repo level: no repository name), ``missing_column`` (no content
column at all), ``stub_file`` (``.pyi`` / ``.d.ts``: bodies are ``...``; ``skip_stubs``; at repo level a stub
stays context for its repository).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pyarrow as pa

from codeflow.fim.ast_split import AstBounds
from codeflow.fim.context import RepoFile, get_retriever, select_context
from codeflow.fim.format import check_text, render_file, render_repo
from codeflow.fim.repo_context import UnitIndex
from codeflow.fim.sample import SPLIT_KINDS, SplitParams, choose_split, expand_modes, is_stub, is_text_only, rng_for
from codeflow.fim.tokens import QWEN, FimTokens
from codeflow.records import FIM_SCHEMA, rejects_table, stable_id
from codeflow.stage import Stage, StageResult

LEVELS = ("file", "repo")
CONTEXT_MODES = ("units", "units_bm25", "files")
DEFAULT_WEIGHTS = {"char": 0.2, "line": 0.3, "ast_expression": 0.15, "ast_statement": 0.2, "ast_function": 0.15}


@dataclass(frozen=True)
class FimConfig:
    """Everything that decides the samples; part of the shard config hash (resume refuses a changed config)."""

    level: str = "file"
    fim_rate: float = 0.5
    modes: tuple[str, ...] = SPLIT_KINDS
    mode_weights: tuple[float, ...] = ()
    seed: int = 0
    max_lines: int = 15
    min_middle_bytes: int = 2
    max_middle_bytes: int = 4096
    max_file_chars: int = 1_000_000
    max_ast_file_bytes: int = 1 << 20
    ast_window_bytes: int = 4096
    # Split hygiene (docs/fim.md "Split hygiene"): char middles <= min(max_char_middle, fraction * file), 0 = no
    # cap; AST middles <= max_middle_file_fraction of the file; import weight, and no import-only pick unless
    # imports_alone; config / markup files char/line only; stubs rejected.
    max_char_middle: int = 2000
    max_char_middle_fraction: float = 0.25
    max_middle_file_fraction: float = 0.5
    import_weight: float = 0.003
    imports_alone: bool = False
    include_decorators: bool = True  # function-level middles start at their decorators / attributes
    text_only_config: bool = True
    skip_stubs: bool = True
    max_context_chars: int = 32_768
    max_context_files: int = 32
    retriever: str = "bm25_imports"  # ranks whole files (context="files")
    context: str = "units"  # units: definitions + skeletons + BM25 units; units_bm25: BM25 units; files: whole files
    context_tokenizer: str | None = None  # units context: budget in this tokenizer's tokens (max_context_tokens)
    max_context_tokens: int = 8192
    tokens: FimTokens = field(default_factory=lambda: QWEN)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {self.level!r}")
        if not 0.0 <= self.fim_rate <= 1.0:
            raise ValueError("fim_rate must be within [0, 1]")
        object.__setattr__(self, "modes", expand_modes(self.modes))
        weights = tuple(self.mode_weights) or tuple(DEFAULT_WEIGHTS[m] for m in self.modes)
        if len(weights) != len(self.modes) or any(w < 0 for w in weights) or not sum(weights) > 0:
            raise ValueError(f"mode weights {weights} do not fit modes {self.modes}")
        object.__setattr__(self, "mode_weights", tuple(float(w) for w in weights))
        if self.min_middle_bytes > self.max_middle_bytes:
            raise ValueError("min_middle_bytes > max_middle_bytes")
        if self.max_char_middle < 0:
            raise ValueError("max_char_middle must be >= 0 (0: no cap)")
        for name in ("max_char_middle_fraction", "max_middle_file_fraction"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within (0, 1]")
        if self.import_weight < 0:
            raise ValueError("import_weight must be >= 0")
        get_retriever(self.retriever)  # fail early on an unknown name
        if self.context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {CONTEXT_MODES}, not {self.context!r}")
        if self.context_tokenizer and self.context == "files":
            raise ValueError("a context tokenizer budgets unit context (--context units or units_bm25), not files")

    def split_params(self) -> SplitParams:
        bounds = AstBounds(self.min_middle_bytes, self.max_middle_bytes, self.max_ast_file_bytes,
                           window_bytes=self.ast_window_bytes, max_file_fraction=self.max_middle_file_fraction,
                           import_weight=self.import_weight, imports_alone=self.imports_alone,
                           include_decorators=self.include_decorators)
        return SplitParams(self.modes, self.mode_weights, self.fim_rate, self.max_lines, bounds,
                           self.max_char_middle, self.max_char_middle_fraction, self.text_only_config)


def parse_mode_weights(spec: str | None, modes: tuple[str, ...]) -> tuple[float, ...]:
    """``"char=1,line=2,ast=3"`` (``ast`` spreads over the AST levels) or ``"1,2,3"`` in mode order."""
    if not spec:
        return ()
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if all("=" not in s for s in items):
        return tuple(float(s) for s in items)
    named: dict[str, float] = {}
    for item in items:
        key, _, val = item.partition("=")
        for k in expand_modes(key.strip()):
            named[k] = float(val)
    unknown = set(named) - set(modes)
    if unknown:
        raise ValueError(f"weights given for modes not selected: {', '.join(sorted(unknown))}")
    return tuple(named.get(m, DEFAULT_WEIGHTS[m]) for m in modes)


@dataclass
class _File:
    row: int
    file_id: str
    repo: str | None
    path: str | None
    language: str | None
    text: str
    data: bytes
    sample: bool = True  # False: context only (a stub at repo level: no sample of its own, its signatures help)


class FimStage(Stage):
    name = "fim"
    schema = FIM_SCHEMA

    def __init__(self, config: FimConfig) -> None:
        super().__init__(config)

    # ---- input validation ------------------------------------------------------------------------
    def _validate(self, batch: pa.Table, unit: str) -> tuple[list[_File], list[dict]]:
        cfg, tokens = self.config, self.config.tokens
        n = batch.num_rows
        cols = batch.column_names
        rejects: list[dict] = []

        def col(name: str) -> list:
            return batch.column(name).to_pylist() if name in cols else [None] * n

        if "content" not in cols:
            ids = col("id")
            return [], [{"id": ids[i] or stable_id(unit, str(i), prefix="row:"), "stage": self.name,
                         "reason": "missing_column", "detail": "input has no 'content' column",
                         "source": f"{unit}#{i}"} for i in range(n)]
        content = batch.column("content")
        raw = content.cast(pa.binary()).to_pylist() if pa.types.is_string(content.type) or \
            pa.types.is_large_string(content.type) or pa.types.is_binary(content.type) else \
            [None if v is None else str(v).encode() for v in content.to_pylist()]
        ids, repos, paths, langs = col("id"), col("repo"), col("path"), col("language")
        files: list[_File] = []
        for i in range(n):
            data = raw[i]
            fid = ids[i] or stable_id(repos[i], paths[i], data, prefix="file:")
            source = f"{repos[i]}:{paths[i]}" if paths[i] else f"{unit}#{i}"

            def reject(reason: str, detail: str, fid=fid, source=source) -> None:
                rejects.append({"id": fid, "stage": self.name, "reason": reason, "detail": detail, "source": source})

            if data is None:
                reject("missing_content", "content is null")
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                reject("invalid_utf8", f"byte {e.start}: {e.reason}")
                continue
            if not text.strip():
                reject("empty_file", f"{len(text)} whitespace characters")
                continue
            if len(text) > cfg.max_file_chars:
                reject("file_too_large", f"{len(text)} chars > max_file_chars {cfg.max_file_chars}")
                continue
            why = check_text(text, tokens)
            if why:
                reject("special_token", f"content {why}")
                continue
            if cfg.level == "repo":
                if not repos[i]:
                    reject("missing_repo", "repo level needs a repository name")
                    continue
                if not paths[i] or check_text(paths[i], tokens, single_line=True):
                    reject("bad_path", f"path {paths[i]!r} unusable: {check_text(paths[i] or '', tokens, True)}")
                    continue
                why = check_text(repos[i], tokens, single_line=True)
                if why:
                    reject("special_token", f"repo name {why}")
                    continue
            lang = langs[i] or _guess_language(paths[i], text)
            if cfg.skip_stubs and is_stub(paths[i]):
                reject("stub_file", f"type stub / declaration file {paths[i]!r}: its bodies are '...'")
                if cfg.level == "repo":  # still context for the other files of its repository
                    files.append(_File(i, fid, repos[i], paths[i], lang, text, data, sample=False))
                continue
            files.append(_File(i, fid, repos[i], paths[i], lang, text, data))
        return files, rejects

    # ---- samples ---------------------------------------------------------------------------------
    def process(self, batch: pa.Table, unit: str) -> StageResult:
        cfg = self.config
        files, rejects = self._validate(batch, unit)
        stats: Counter = Counter()
        params = cfg.split_params()
        out: list[tuple[int, dict]] = []
        if cfg.level == "file":
            for f in files:
                if f.sample:
                    out.append((f.row, self._sample(f, params, [], stats)))
        else:
            groups: dict[str, list[_File]] = {}
            for f in files:
                groups.setdefault(f.repo, []).append(f)
            for repo in groups:
                out.extend(self._repo_samples(groups[repo], params, stats))
        out.sort(key=lambda x: x[0])
        kept = pa.Table.from_pylist([r for _, r in out], schema=FIM_SCHEMA) if out else FIM_SCHEMA.empty_table()
        return StageResult(kept, rejects_table(rejects), stats)

    def _sample(self, f: _File, params: SplitParams, context: list[tuple[str, str]] | ContextFn,
                stats: Counter, tree=None) -> dict:
        """``context``: ``[(path, content)]``, or a function of (prefix, middle, suffix) giving it once the
        split is known (unit context ranks on prefix+suffix and drops copies of the middle)."""
        cfg = self.config
        rng = rng_for(f.file_id, cfg.seed, cfg.level)
        text_only = is_text_only(f.language, f.path)
        split = choose_split(f.text, f.data, f.language, rng, params, tree, text_only)
        pre, mid, suf = split.cut(f.text)
        fim = split.kind != "none"
        if callable(context):
            context = context(pre, mid, suf)
            stats["context_files"] += len(context)
            stats["context_chars"] += sum(len(cfg.tokens.file_sep) + len(p) + len(c) + 2 for p, c in context)
        if cfg.level == "file":
            text = render_file(pre, mid, suf, fim, cfg.tokens)
        else:
            text = render_repo(f.repo or "", context, f.path or "", pre, mid, suf,
                               fim, cfg.tokens)
        stats[f"split_{split.kind}"] += 1
        if text_only and fim:
            stats["text_only_splits"] += 1
        if split.category:
            stats[f"{split.kind}_category_{split.category}"] += 1
        if split.kind != split.requested:
            stats[f"fallback_{split.requested}_to_{split.kind}"] += 1
        return {"id": stable_id(f.file_id, cfg.level, str(cfg.seed), prefix="fim:"), "file_id": f.file_id,
                "repo": f.repo, "path": f.path, "language": f.language, "level": cfg.level,
                "split_kind": split.kind, "requested_kind": split.requested, "prefix": pre, "middle": mid,
                "suffix": suf, "context_paths": [p for p, _ in context], "text": text, "seed": cfg.seed}

    def _repo_samples(self, group: list[_File], params: SplitParams, stats: Counter) -> list[tuple[int, dict]]:
        cfg = self.config
        repo_files = [RepoFile(f.path or "", f.text, f.language) for f in group]
        if cfg.context != "files":
            index = UnitIndex.for_config(repo_files, cfg)
            out = []
            for t, f in enumerate(group):
                tree = index.take_tree(t)  # taken for a context-only file too: trees do not outlive the sample loop
                if f.sample:
                    out.append((f.row, self._sample(f, params, partial(_unit_context, index, t, cfg), stats, tree)))
            return out
        rank = get_retriever(cfg.retriever)(repo_files)
        sep = len(cfg.tokens.file_sep)
        sizes = [sep + len(f.path or "") + len(f.text) + 2 for f in group]
        out = []
        for t, f in enumerate(group):
            if not f.sample:
                continue
            chosen = select_context(rank(t), sizes, cfg.max_context_chars, cfg.max_context_files,
                                    eligible=lambda i, p=f.path: group[i].path != p)
            context = [(group[i].path or "", group[i].text) for i in reversed(chosen)]  # most relevant last
            stats["context_files"] += len(context)
            stats["context_chars"] += sum(sizes[i] for i in chosen)
            out.append((f.row, self._sample(f, params, context, stats)))
        return out


ContextFn = Callable[[str, str, str], list[tuple[str, str]]]


def _unit_context(index: UnitIndex, target: int, cfg: FimConfig, pre: str, mid: str,
                  suf: str) -> list[tuple[str, str]]:
    return index.context(target, pre, suf, mid, index.budget, cfg.max_context_files)


def _guess_language(path: str | None, text: str) -> str | None:
    if not path:
        return None
    from codeflow.code.languages import language_for_path

    return language_for_path(path, text.split("\n", 1)[0])
