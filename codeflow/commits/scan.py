"""One pass of libgit2 over the commits a search can reach: per-commit changed paths and line counts.

Each first-parent commit is diffed against its first parent once (in process, pygit2), classified, and cached,
so the K forward walks of a repository share the work. Blob contents are read only for commits that pass every
cheap filter and might close a triplet (whitespace-/comment-only, LFS pointers, non-UTF-8): that is what makes
the scan run close to ``git log -p``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import DiffOption

from codeflow.commits import messages, paths
from codeflow.commits.config import TripletConfig

SPECIAL_MODES = (0o120000, 0o160000)  # symlink, submodule: no text content to patch
NULL_OID = "0" * 40
# dominant filter -> the reason a start without an endpoint is rejected with (else "no_endpoint")
SPECIFIC_REASONS = {"binary_only": "binary_only", "lfs_only": "lfs_only", "non_utf8_only": "non_utf8_only"}


@dataclass
class FileChange:
    path: str
    old_id: str
    new_id: str
    added: int
    removed: int
    cls: str  # paths.classify, or binary / special
    lang: str | None


@dataclass
class CommitInfo:
    rank: int
    id: str
    is_merge: bool
    message: str
    author: str
    email: str
    giant: bool = False
    files: list[FileChange] = field(default_factory=list)

    @property
    def kept(self) -> list[FileChange]:
        """Files a triplet may carry: text, not noise."""
        return [f for f in self.files if f.cls not in paths.NOISE and f.cls not in ("binary", "special")]

    @property
    def lines(self) -> int:
        return sum(f.added + f.removed for f in self.kept)


class Scanner:
    """Lazily scans and caches ``CommitInfo`` for ranks of one repository's first-parent history."""

    def __init__(self, repo: pygit2.Repository, ids: list[pygit2.Oid], config: TripletConfig) -> None:
        self.repo = repo
        self.ids = ids
        self.config = config
        self.cache: dict[int, CommitInfo] = {}
        self.filter_cache: dict[int, str | None] = {}
        self.scanned = 0

    @property
    def filter_counts(self) -> Counter:
        """Filter name (or ``endpoint_ok``) -> distinct walked commits, for the run's counters."""
        return Counter(v or "endpoint_ok" for v in self.filter_cache.values())

    def get(self, rank: int) -> CommitInfo:
        info = self.cache.get(rank)
        if info is None:
            info = self.cache[rank] = self._scan(rank)
            self.scanned += 1
        return info

    def _scan(self, rank: int) -> CommitInfo:
        cfg = self.config
        commit = self.repo[self.ids[rank]]
        parents = commit.parent_ids
        info = CommitInfo(rank=rank, id=str(commit.id), is_merge=len(parents) > 1, message=commit.message,
                          author=commit.author.name, email=commit.author.email)
        flags = DiffOption.IGNORE_FILEMODE | DiffOption.IGNORE_SUBMODULES
        if parents:
            diff = self.repo.diff(self.repo[parents[0]].tree, commit.tree, flags=flags, context_lines=0)
        else:
            diff = commit.tree.diff_to_tree(flags=flags, context_lines=0, swap=True)
        if len(diff) > cfg.giant_files:
            info.giant = True
            return info
        total = 0
        for patch in diff:
            delta = patch.delta
            new, old = delta.new_file, delta.old_file
            path = new.path if str(new.id) != NULL_OID else old.path
            if new.mode in SPECIAL_MODES or old.mode in SPECIAL_MODES:
                cls = "special"
                added = removed = 0
            else:
                _, added, removed = patch.line_stats
                cls = "binary" if delta.is_binary else paths.classify(path)
            if cls not in paths.NOISE:
                total += added + removed
            info.files.append(FileChange(path, str(old.id), str(new.id), added, removed, cls,
                                         paths.language(path)))
        info.giant = total > cfg.giant_lines
        return info

    # ---- filters ----------------------------------------------------------------------------------------
    def endpoint_filter(self, info: CommitInfo) -> str | None:
        """The first filter ``info`` fails as an endpoint, or None. Cheap checks first, blobs last."""
        if info.rank not in self.filter_cache:
            self.filter_cache[info.rank] = self._endpoint_filter(info)
        return self.filter_cache[info.rank]

    def _endpoint_filter(self, info: CommitInfo) -> str | None:
        cfg = self.config
        if info.is_merge:
            return "merge"
        if messages.is_bot(info.author, info.email):
            return "bot_author"
        reason = messages.message_filter(info.message)
        if reason:
            return reason
        kept = info.kept
        if not kept:
            return _dominant_noise(info)
        source = [f for f in kept if f.cls == "source"]
        if not source:
            # LFS pointers are small text files that only their content gives away; check them here so a
            # repository of LFS assets is reported as such (cheap: only commits without source changes).
            if all(paths.is_lfs_pointer(self.blob(f.new_id) or self.blob(f.old_id)) for f in kept):
                return "lfs_only"
            return "no_code_change"
        if len(source) > cfg.commit_max_source_files or info.lines > cfg.commit_max_lines:
            return "too_large"
        return self._content_filter(kept)

    def _content_filter(self, kept: list[FileChange]) -> str | None:
        usable: list[tuple[FileChange, bytes, bytes]] = []
        problems: Counter = Counter()
        for f in kept:
            old = self.blob(f.old_id)
            new = self.blob(f.new_id)
            if paths.is_lfs_pointer(old) or paths.is_lfs_pointer(new):
                problems["lfs_only"] += 1
            elif max(len(old), len(new)) > self.config.max_file_bytes:
                problems["too_large"] += 1
            elif not (_utf8(old) and _utf8(new)):
                problems["non_utf8_only"] += 1
            else:
                usable.append((f, old, new))
        if not usable:
            return problems.most_common(1)[0][0]
        if not any(f.cls == "source" for f, _, _ in usable):
            return "no_code_change"
        if all(_squash(o) == _squash(n) for _, o, n in usable):
            return "whitespace_only"
        if all(_strip_comments(o, f.lang) == _strip_comments(n, f.lang) for f, o, n in usable):
            return "comment_only"
        return None

    def blob(self, oid: str) -> bytes:
        if oid == NULL_OID:
            return b""
        return self.repo[oid].data


def _dominant_noise(info: CommitInfo) -> str:
    counts = Counter(f.cls for f in info.files)
    if not counts:
        return "empty_commit"
    cls = counts.most_common(1)[0][0]
    names = {"binary": "binary_only", "special": "binary_only", "lock": "lock_file_only"}
    return names.get(cls, "vendored_or_generated")


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_WS = re.compile(rb"\s+")


def _squash(data: bytes) -> bytes:
    return _WS.sub(b"", data)


_HASH_COMMENT = re.compile(rb"#[^\n]*")
_SLASH_COMMENT = re.compile(rb"//[^\n]*|/\*.*?\*/", re.S)


def _strip_comments(data: bytes, lang: str | None) -> bytes:
    """Content without comments, whitespace squashed: tree-sitter comment nodes, a regex when no grammar."""
    if lang:
        try:
            from codeflow.code.languages import comment_node_types, get_parser

            tree = get_parser(lang).parse(data)
            kinds = _comment_kinds(lang, comment_node_types)
            spans: list[tuple[int, int]] = []
            stack = [tree.root_node]
            while stack:
                node = stack.pop()
                if node.type in kinds or (lang == "python" and _is_docstring(node)):
                    spans.append((node.start_byte, node.end_byte))
                    continue
                stack.extend(node.children)
            spans.sort()
            out, pos = [], 0
            for a, b in spans:
                out.append(data[pos:a])
                pos = max(pos, b)
            out.append(data[pos:])
            return _squash(b"".join(out))
        except Exception:  # noqa: BLE001 - no grammar for this language: fall back to regexes
            pass
    pattern = _HASH_COMMENT if lang in ("python", "ruby", "bash", "perl", "r", "yaml", "toml", "make") \
        else _SLASH_COMMENT
    return _squash(pattern.sub(b"", data))


_COMMENT_KINDS: dict[str, frozenset[str]] = {}


def _comment_kinds(lang: str, comment_node_types) -> frozenset[str]:
    kinds = _COMMENT_KINDS.get(lang)
    if kinds is None:
        kinds = _COMMENT_KINDS[lang] = comment_node_types(lang)
    return kinds


def _is_docstring(node) -> bool:
    """A Python string that is a whole expression statement (module/class/function docstrings)."""
    return node.type == "expression_statement" and node.named_child_count == 1 and \
        node.named_children[0].type == "string"
