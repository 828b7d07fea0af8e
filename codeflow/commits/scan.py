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
from pygit2.enums import DiffOption, ObjectType

from codeflow.commits import lexproof, messages, paths
from codeflow.commits.config import TripletConfig
from codeflow.commits.lexproof import squash
from codeflow.repos import MODE_COMMIT, MODE_LINK

_DIFF_FLAGS = int(DiffOption.IGNORE_FILEMODE | DiffOption.IGNORE_SUBMODULES)
SPECIAL_MODES = (MODE_LINK, MODE_COMMIT)  # symlink, submodule: no text content to patch
NULL_OID = "0" * 40
# dominant filter -> the reason a start without an endpoint is rejected with (else "no_endpoint")
SPECIFIC_REASONS = {"binary_only": "binary_only", "lfs_only": "lfs_only", "non_utf8_only": "non_utf8_only"}
# Reading an object that is not in the store (KeyError, pygit2.NotFoundError) or does not inflate (GitError).
UNREADABLE = (KeyError, pygit2.GitError)


def unreadable_reason(e: BaseException) -> str:
    """``missing_objects`` for an object the store does not have, ``corrupt_objects`` for one it cannot read."""
    return "missing_objects" if isinstance(e, KeyError) else "corrupt_objects"


@dataclass
class FileChange:
    path: str
    old_id: str
    new_id: str
    cls: str  # paths.classify, or binary / special
    lang: str | None
    sizes: tuple[int, int] = (0, 0)  # (old, new) blob bytes as libgit2 measured them for the diff; 0: unknown


@dataclass
class CommitInfo:
    rank: int
    id: str
    is_merge: bool
    message: str
    author: str
    email: str
    giant: bool = False
    lines: int = 0  # added + removed lines over the kept files
    doc_lines: int = 0  # of which in documentation files (not charged to a step's line budget)
    measured: bool = True  # False: a merge whose files and lines are computed on demand (Scanner.measure)
    files: list[FileChange] = field(default_factory=list)
    unreadable: str | None = None  # "missing_objects" / "corrupt_objects": its diff needs an object we can't read
    unreadable_detail: str = ""

    @property
    def code_lines(self) -> int:
        """Changed lines a step's budget is charged: all kept lines but documentation."""
        return self.lines - self.doc_lines

    @property
    def kept(self) -> list[FileChange]:
        """Files a triplet may carry: text, not noise."""
        return [f for f in self.files if f.cls not in paths.NOISE and f.cls not in ("binary", "special")]


def restore_libgit2_defaults() -> None:
    """Undo the scanner's process-wide libgit2 settings (other pygit2 code in the process expects defaults)."""
    pygit2.settings.enable_strict_hash_verification(True)
    pygit2.settings.cache_object_limit(ObjectType.BLOB, 0)


class Scanner:
    """Lazily scans and caches ``CommitInfo`` for ranks of one repository's first-parent history."""

    def __init__(self, repo: pygit2.Repository, ids: list[pygit2.Oid], config: TripletConfig,
                 merge_endpoints: bool | None = None) -> None:
        # libgit2 re-hashes every object it reads by default (git itself does not): ~40% of the scan's CPU.
        # A corrupt (undecompressable or missing) object still fails loudly; see docs/triplets.md.
        pygit2.settings.enable_strict_hash_verification(config.verify_object_hashes)
        # Cache blobs up to the file-size cap: the new side of one commit is the old side of the next, so the
        # forward scan inflates most blobs once instead of twice (libgit2 caches no blobs by default).
        pygit2.settings.cache_object_limit(ObjectType.BLOB, config.max_file_bytes)
        self.repo = repo
        self.ids = ids
        self.config = config
        # resolved per repository by the stage when the config says "auto" (None)
        self.merge_endpoints = bool(config.merge_endpoints if merge_endpoints is None else merge_endpoints)
        self.cache: dict[int, CommitInfo] = {}
        self.filter_cache: dict[int, str | None] = {}
        self.merge_filter_cache: dict[int, str | None] = {}  # merges judged against the repository's mode
        self.scanned = 0
        self.measured_merges = 0
        self.unreadable: dict[int, str] = {}  # rank -> missing_objects / corrupt_objects
        self._strip_cache: dict[tuple[str, str | None], bytes] = {}
        self._blobs: dict[str, bytes] = {}

    @property
    def filter_counts(self) -> Counter:
        """Filter name (or ``endpoint_ok``) -> distinct walked commits, for the run's counters."""
        return Counter(v or "endpoint_ok" for v in self.filter_cache.values())

    @property
    def unreadable_counts(self) -> Counter:
        """``missing_objects`` / ``corrupt_objects`` -> commits skipped because their diff needs such objects."""
        return Counter(self.unreadable.values())

    def get(self, rank: int) -> CommitInfo:
        info = self.cache.get(rank)
        if info is None:
            info = self.cache[rank] = self._scan(rank)
            self.scanned += 1
        return info

    def _diff(self, commit: pygit2.Commit) -> pygit2.Diff:
        # Tree.diff_to_tree is what Repository.diff calls for two trees (without its argument dispatch)
        parents = commit.parent_ids
        if parents:
            return self.repo[parents[0]].tree.diff_to_tree(commit.tree, flags=_DIFF_FLAGS, context_lines=0)
        return commit.tree.diff_to_tree(flags=_DIFF_FLAGS, context_lines=0, swap=True)

    def _scan(self, rank: int) -> CommitInfo:
        commit = self.repo[self.ids[rank]]
        author = commit.author
        info = CommitInfo(rank=rank, id=str(commit.id), is_merge=len(commit.parent_ids) > 1,
                          message=commit.message, author=author.name, email=author.email)
        if info.is_merge:
            # A merge can never be an endpoint (unless merge_endpoints) and is excluded from the size band: its
            # files and lines are only needed when a walk crosses it, so ``measure`` computes them then (a
            # merge's first-parent diff is a whole pull request: the most expensive diffs of a history).
            info.measured = False
            return info
        self._measure_readable(info, commit)
        return info

    def measure(self, info: CommitInfo) -> CommitInfo:
        """Make sure ``info`` has its files and line counts (deferred for merges)."""
        if not info.measured:
            self._measure_readable(info, self.repo[self.ids[info.rank]])
            info.measured = True
            self.measured_merges += 1
        return info

    def _measure_readable(self, info: CommitInfo, commit: pygit2.Commit) -> None:
        """Diff and measure ``commit``; a diff that needs a missing or corrupt object marks only this commit.

        A partial clone (blob size filter), a damaged mirror or a pruned object store loses a few objects; the
        commits whose diff needs them are walls for the walks (``search``), the rest of the history is mined.
        """
        try:
            self._measure(info, self._diff(commit))
        except UNREADABLE as e:
            info.files, info.lines, info.giant = [], 0, False
            info.unreadable = unreadable_reason(e)
            first = str(e).splitlines()[0] if str(e) else ""
            info.unreadable_detail = f"commit {info.id[:12]}: {type(e).__name__}: {first}"
            self.unreadable[info.rank] = info.unreadable

    def _measure(self, info: CommitInfo, diff: pygit2.Diff) -> None:
        cfg = self.config
        if len(diff) > cfg.giant_files:
            info.giant = True
            return
        # One patch per file (libgit2 loads both blobs, checks for binary content, runs xdiff in C); its line
        # counts are charged unless the file is noise or special, and documentation lines are counted apart.
        # (``diff.stats`` plus a second patch per noise / documentation file did the same work twice for them.)
        total = doc = 0
        files: list[FileChange] = []
        for patch in diff:
            delta = patch.delta
            new, old = delta.new_file, delta.old_file
            new_id = str(new.id)
            path = new.path if new_id != NULL_OID else old.path
            if new.mode in SPECIAL_MODES or old.mode in SPECIAL_MODES:
                cls = "special"
            elif delta.is_binary:
                cls = "binary"
            else:
                cls = paths.classify(path)
            if cls not in paths.NOISE and cls != "special":
                _, added, removed = patch.line_stats
                total += added + removed
                if cls == "doc":
                    doc += added + removed
            files.append(FileChange(path, str(old.id), new_id, cls, paths.language(path), (old.size, new.size)))
        info.files = files
        info.lines = total
        info.doc_lines = doc
        info.giant = total > cfg.giant_lines

    # ---- filters ----------------------------------------------------------------------------------------
    def endpoint_filter(self, info: CommitInfo, merges: bool | None = None) -> str | None:
        """The first filter ``info`` fails as an endpoint, or None. Cheap checks first, blobs last.

        ``merges`` overrides the repository's ``merge_endpoints`` for one walk (auto mode decides it per stretch
        of history: a project that moved to pull requests has both regimes); such merge verdicts have their own
        cache and do not enter the per-commit counters."""
        if merges is not None and info.is_merge and merges != self.merge_endpoints:
            if info.rank not in self.merge_filter_cache:
                self.merge_filter_cache[info.rank] = self._endpoint_filter(info, merges)
            return self.merge_filter_cache[info.rank]
        if info.rank not in self.filter_cache:
            self.filter_cache[info.rank] = self._endpoint_filter(info, self.merge_endpoints)
        return self.filter_cache[info.rank]

    def _endpoint_filter(self, info: CommitInfo, merges: bool) -> str | None:
        if info.is_merge:
            if not merges:
                return "merge"
            self.measure(info)
        if info.unreadable:
            return info.unreadable
        try:
            return self._readable_endpoint_filter(info)
        except UNREADABLE as e:  # a blob the cheap diff stats did not need (LFS check, content filter)
            self.unreadable[info.rank] = info.unreadable = unreadable_reason(e)
            return info.unreadable

    def _readable_endpoint_filter(self, info: CommitInfo) -> str | None:
        cfg = self.config
        if messages.is_bot(info.author, info.email):
            return "bot_author"
        reason = messages.message_filter(info.message, merge=info.is_merge)
        if reason:
            return reason
        if messages.is_boilerplate(info.message, info.author, info.email, info.is_merge):
            return "boilerplate"  # a release / bump / badge / branch sync the message filter let through
        kept = info.kept
        if not kept:
            return _dominant_noise(info)
        source = [f for f in kept if f.cls == "source"]
        if not source:
            # LFS pointers are small text files that only their content gives away; check them here so a
            # repository of LFS assets is reported as such (cheap: only commits without source changes).
            if all(self._lfs_pointer(f) for f in kept):
                return "lfs_only"
            return "no_code_change"
        if len(source) > cfg.commit_max_source_files or info.code_lines > cfg.commit_max_lines:
            return "too_large"
        return self._content_filter(kept)

    def _usable(self, f: FileChange) -> tuple[str | None, bytes, bytes]:
        """(problem or None, old bytes, new bytes) of a kept file."""
        old = self.blob(f.old_id)
        new = self.blob(f.new_id)
        if paths.is_lfs_pointer(old) or paths.is_lfs_pointer(new):
            return "lfs_only", old, new
        if max(len(old), len(new)) > self.config.max_file_bytes:
            return "too_large", old, new
        if not (_utf8(old) and _utf8(new)):
            return "non_utf8_only", old, new
        return None, old, new

    def _content_filter(self, kept: list[FileChange]) -> str | None:
        # Files in order; blobs are read only until the verdict is known: once a usable file surely changes code
        # (regex pre-test) and a usable source file exists, the commit is an endpoint candidate (None).
        usable: list[tuple[FileChange, bytes, bytes]] = []
        problems: Counter = Counter()
        hunks_of: dict[str, tuple[list, bool, bool]] = {}
        changed = source = False
        for f in kept:
            problem, old, new = self._usable(f)
            if problem:
                problems[problem] += 1
                continue
            usable.append((f, old, new))
            source = source or f.cls == "source"
            if not changed:  # past a changed file only a usable source file is still looked for
                hunks_of[f.path] = self._hunks(f, old, new)
                changed = hunks_of[f.path][2]
            if changed and source:
                return None
        if not usable:
            return problems.most_common(1)[0][0]
        if not any(f.cls == "source" for f, _, _ in usable):
            return "no_code_change"
        # One zero-context diff per file. Unchanged lines are identical, so "equal without whitespace" on the
        # changed lines is the same test as on whole files, at a fraction of the bytes.
        only_whitespace, unequal = True, False
        to_parse: list[tuple[FileChange, bytes, bytes]] = []
        for f, o, n in usable:
            hunks, whitespace, _ = hunks_of[f.path]
            only_whitespace = only_whitespace and whitespace
            # What it leaves, a lexer proves from the lines around the hunks where it can (comment / docstring
            # edits; where comments are lexical extras, code edits too); the rest goes to the parse.
            proof = self._proof(f, o, n, hunks)
            if proof is False and not whitespace:
                return None
            unequal = unequal or proof is False
            if proof is None:
                to_parse.append((f, o, n))
        if only_whitespace:
            return "whitespace_only"
        # Decide the rest on whole files with tree-sitter comment nodes and Python docstrings (a '#' inside a
        # string, a docstring line, a block comment opened outside the hunk must not fool the filter).
        if not unequal and all(self._stripped_pair(f, o, n) for f, o, n in to_parse):
            return "comment_only"
        return None

    @staticmethod
    def _hunks(f: FileChange, old: bytes, new: bytes) -> tuple[list, bool, bool]:
        """(zero-context hunks, whether they change whitespace only, whether the regex pre-test says they surely
        change code).

        The pre-test settles "code changed" only where nothing can overrule it: a changed line inside a docstring
        or a block comment opened outside the hunk looks like code to a line regex."""
        hunks = _changed_lines(old, new)
        if squash(b"".join(h[2] for h in hunks)) == squash(b"".join(h[3] for h in hunks)):
            return hunks, True, False  # whitespace only: nothing for the pre-test to settle
        # ``_code_changed`` per hunk; where a hunk's own lines already say "maybe not" (a comment or docstring
        # edit) the block state at its start is never needed, so the delimiter scan runs only when one is.
        inside: list[bool] | None = None
        for i, h in enumerate(hunks):
            if not _code_changed(h, f.lang, False):
                continue
            if _block_family(f.lang) is None:
                return hunks, False, True
            if inside is None:
                inside = _hunks_inside(old, new, hunks, f.lang)
            if not inside[i]:
                return hunks, False, True
        return hunks, False, False

    def _proof(self, f: FileChange, old: bytes, new: bytes, hunks: list[tuple]) -> bool | None:
        """``lexproof.comment_only`` for ``f`` (None where the language has no lexer or the lexer is unsure)."""
        if f.lang not in lexproof.LEXERS:
            return None
        return lexproof.comment_only(f.lang, old, new, [(h[0], h[1], h[4], h[5]) for h in hunks], f.old_id,
                                     f.new_id)

    def _stripped_pair(self, f: FileChange, old: bytes, new: bytes) -> bool:
        """Old and new side of ``f`` are equal without comments, docstrings and whitespace.

        The new side is parsed incrementally from the old side's tree (tree-sitter's public ``Tree.edit`` +
        ``Parser.parse(new, old_tree)``): only the changed region is re-parsed, which halves the cost of the
        check on the large, docstring-heavy files where it runs most. Results are cached by blob id."""
        query = _comment_query(f.lang) if f.lang else None
        if query is None:
            return self._stripped(f.old_id, old, f.lang, None) == self._stripped(f.new_id, new, f.lang, None)
        from codeflow.code.languages import get_parser

        parser = get_parser(f.lang)
        key_old, key_new = (f.old_id, f.lang), (f.new_id, f.lang)
        if key_old in self._strip_cache and key_new in self._strip_cache:
            return self._strip_cache[key_old] == self._strip_cache[key_new]
        old_tree = parser.parse(old)
        new_tree = parser.parse(new, edited_tree(old_tree, old, new))
        return (self._stripped(f.old_id, old, f.lang, old_tree)
                == self._stripped(f.new_id, new, f.lang, new_tree))

    def _stripped(self, oid: str, data: bytes, lang: str | None, tree) -> bytes:
        """``_strip_comments`` of a blob, cached by id: one commit's new side is the next commit's old side."""
        key = (oid, lang)
        if key not in self._strip_cache:
            if len(self._strip_cache) >= 256:
                self._strip_cache.pop(next(iter(self._strip_cache)))
            self._strip_cache[key] = _strip_comments(data, lang, tree)
        return self._strip_cache[key]

    def _lfs_pointer(self, f: FileChange) -> bool:
        """``f``'s new side (its old side when deleted) is a Git LFS pointer; a side libgit2 measured at the
        pointer size cap or more cannot be one, so its blob is not read."""
        size = f.sizes[1] if f.new_id != NULL_OID else f.sizes[0]
        if size >= paths.LFS_POINTER_MAX_BYTES:
            return False
        return paths.is_lfs_pointer(self.blob(f.new_id) or self.blob(f.old_id))

    def blob(self, oid: str) -> bytes:
        """A blob's bytes; the last few are kept (a commit's new side is the next commit's old side, and the
        filters read each side more than once)."""
        if oid == NULL_OID:
            return b""
        data = self._blobs.get(oid)
        if data is None:
            data = self.repo[oid].data
            if len(data) <= self.config.max_file_bytes:
                self._blobs[oid] = data
                if len(self._blobs) > 32:
                    self._blobs.pop(next(iter(self._blobs)))
        return data


def _dominant_noise(info: CommitInfo) -> str:
    counts = Counter(f.cls for f in info.files)
    if not counts:
        return "empty_commit"
    cls = counts.most_common(1)[0][0]
    names = {"binary": "binary_only", "special": "binary_only", "lock": "lock_file_only"}
    return names.get(cls, "vendored_or_generated")


def _utf8(data: bytes) -> bool:
    if data.isascii():  # one C pass, no str built: most source files
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_HASH_LANGS = frozenset({"python", "ruby", "bash", "perl", "r", "yaml", "toml", "make", "cmake", "dockerfile",
                         "elixir", "julia", "nim", "powershell"})


def _changed_lines(old: bytes, new: bytes) -> list[tuple[int, int, bytes, bytes, int, int]]:
    """Hunks of a zero-context libgit2 diff of two blobs: (old start line, new start line, removed lines, added
    lines, old line count, new line count), lines 1-based."""
    data = pygit2.Patch.create_from(old, new, context_lines=0).data
    hunks: list[tuple[int, int, list[bytes], list[bytes], int, int]] = []
    for line in data.split(b"\n"):
        if line.startswith(b"@@"):
            m = _HUNK.match(line)
            if m is None:
                raise ValueError(f"libgit2 wrote a hunk header we cannot read: {line[:80]!r}")
            hunks.append((int(m.group(1)), int(m.group(3)), [], [], int(m.group(2) or 1), int(m.group(4) or 1)))
        elif hunks and line[:1] == b"-":
            hunks[-1][2].append(line[1:])
        elif hunks and line[:1] == b"+":
            hunks[-1][3].append(line[1:])
    return [(o, n, b"\n".join(r), b"\n".join(a), oc, nc) for o, n, r, a, oc, nc in hunks]


_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))?")
# Block delimiters whose inside a line regex cannot see: Python's triple-quoted strings (docstrings) and C-style
# block comments. Languages not listed here always get the syntax-aware check.
_BLOCKS = {"python": re.compile(rb'"""|\'\'\''), "slash": re.compile(rb"/\*|\*/")}
_SLASH_LANGS = frozenset({"c", "cpp", "cuda", "java", "javascript", "typescript", "tsx", "go", "rust", "csharp",
                          "kotlin", "scala", "swift", "php", "dart", "css", "scss", "objc"})


def _block_family(lang: str | None) -> str | None:
    return "python" if lang == "python" else "slash" if lang in _SLASH_LANGS else None


# The delimiter scan steps over strings and line comments (a "/*" in a glob string opens nothing), one match per
# delimiter: what lies between (a string, a line comment, a byte where nothing else matches) is consumed
# possessively, then the delimiter is captured (or the end is reached: without
# that, a failed attempt after the last delimiter would be retried from every later byte).
_DELIMS = {"python": re.compile(rb'(?:[^"\'#]++|"(?!"")(?:[^"\\\n]++|\\.)*+"|\'(?!\'\')(?:[^\'\\\n]++|\\.)*+\''
                                rb'|#[^\n]*+|(?!"""|\'\'\')(?s:.))*+(?:("""|\'\'\')|\Z)'),
           "slash": re.compile(rb'(?:[^"/*]++|"(?:[^"\\\n]++|\\.)*+"|//[^\n]*+|(?!/\*|\*/)(?s:.))*+(?:(/\*|\*/)|\Z)')}


def _open_blocks(data: bytes, lines: list[int], family: str) -> list[bool]:
    """For each 1-based line of ``lines``: does it start inside a triple-quoted string / block comment?

    One pass of a C regex over the file, stepping over strings and line comments. It can still be fooled (a
    quote in a char literal); a wrong "inside" only costs the syntax-aware check it was meant to spare."""
    if not lines:
        return []
    wanted = sorted(set(lines))
    nl = lexproof.newlines(data)  # a line past the end starts where the last line does
    offsets = {t: 0 if t <= 1 or not len(nl) else int(nl[min(t - 2, len(nl) - 1)]) + 1 for t in wanted}
    state: bytes | None = None
    at: dict[int, bool] = {}
    it = iter(wanted)
    target = next(it, None)
    # Only delimiters move the state. ``_DELIMS`` steps over everything else (strings, line comments, any other
    # byte) possessively in C, so Python sees one match per delimiter.
    for m in _DELIMS[family].finditer(data, 0, offsets[wanted[-1]]):
        if m.group(1) is None:
            continue
        while target is not None and offsets[target] <= m.start(1):
            at[target] = state is not None
            target = next(it, None)
        tok = m.group(1)
        if family == "python":
            if tok in (b'"""', b"\'\'\'"):
                state = tok if state is None else (None if tok == state else state)
        elif tok == b"/*":
            state = state or tok
        elif tok == b"*/":
            state = None
    while target is not None:
        at[target] = state is not None
        target = next(it, None)
    return [at[x] for x in lines]


_WHOLE_BLOCKS = {"python": re.compile(rb'""".*?"""|\'\'\'.*?\'\'\'', re.S), "slash": re.compile(rb"/\*.*?\*/", re.S)}


def _code_changed(hunk: tuple, lang: str | None, inside: bool) -> bool:
    """Whether ``hunk`` surely changes code, decided without a parse: its lines, less comments (line regexes) and
    docstrings / block comments that open and close inside it, differ, and it does not start ``inside`` such a
    block. False means "maybe not": the caller confirms with the syntax-aware check."""
    removed, added = hunk[2], hunk[3]
    family = _block_family(lang)
    if family is None:  # '#'-comment languages have no block comments; for others a grammar may overrule it
        line_only = lang in _HASH_LANGS or not lang or _comment_query(lang) is None
        return line_only and not _code_equal(removed, added, lang)
    whole, block = _WHOLE_BLOCKS[family], _BLOCKS[family]
    removed, added = whole.sub(b"", removed), whole.sub(b"", added)
    return not (inside or block.search(removed) or block.search(added) or _code_equal(removed, added, lang))


def _hunks_inside(old: bytes, new: bytes, hunks: list, lang: str | None) -> list[bool]:
    """Per hunk: does it start inside a docstring / block comment on the old or the new side?"""
    family = _block_family(lang)
    if family is None:
        return [False] * len(hunks)
    olds = _open_blocks(old, [max(h[0], 1) for h in hunks], family)
    news = _open_blocks(new, [max(h[1], 1) for h in hunks], family)
    return [a or b for a, b in zip(olds, news, strict=True)]


def _code_equal(removed: bytes, added: bytes, lang: str | None) -> bool:
    """Removed and added lines are equal once line comments and whitespace are dropped (a quick pre-test)."""
    pattern = _HASH_COMMENT if lang in _HASH_LANGS else _SLASH_COMMENT
    strip = _HASH_COMMENT_LINE if lang in _HASH_LANGS else _SLASH_COMMENT_LINE
    return squash(strip.sub(b"", pattern.sub(b"", removed))) == squash(strip.sub(b"", pattern.sub(b"", added)))


_HASH_COMMENT = re.compile(rb"#[^\n]*")
_SLASH_COMMENT = re.compile(rb"//[^\n]*|/\*.*?\*/", re.S)
# lines inside a block comment whose delimiters lie outside the hunk: "* text", "/* text", "text */"
_SLASH_COMMENT_LINE = re.compile(rb"^\s*(/\*+|\*+/?|\*/).*$|^.*\*/\s*$", re.M)
_HASH_COMMENT_LINE = re.compile(rb"^\s*(\"\"\"|\'\'\').*$", re.M)  # docstring delimiter lines


def _point(data: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter point (row, byte column) of ``offset``."""
    return data.count(b"\n", 0, offset), offset - (data.rfind(b"\n", 0, offset) + 1)


def edited_tree(tree, old: bytes, new: bytes):
    """A copy of ``old``'s tree with the one edit turning ``old`` into ``new`` (common prefix and suffix kept)."""
    start, old_end, new_end = lexproof.edit_span(old, new)
    edited = tree.copy()
    edited.edit(start_byte=start, old_end_byte=old_end, new_end_byte=new_end, start_point=_point(old, start),
                old_end_point=_point(old, old_end), new_end_point=_point(new, new_end))
    return edited


def _strip_comments(data: bytes, lang: str | None, tree=None) -> bytes:
    """Content without comments (and Python docstrings), whitespace squashed.

    tree-sitter comment nodes found by a query (C-side, no Python tree walk); regexes when there is no grammar.
    ``tree`` is ``data``'s parse when the caller has one (an incremental re-parse).
    """
    query = _comment_query(lang) if lang else None
    if query is not None:
        import tree_sitter

        from codeflow.code.languages import get_parser

        tree = tree if tree is not None else get_parser(lang).parse(data)
        spans = sorted((n.start_byte, n.end_byte) for nodes in tree_sitter.QueryCursor(query).captures(
            tree.root_node).values() for n in nodes)
        out, pos = [], 0
        for a, b in spans:
            if a >= pos:
                out.append(data[pos:a])
            pos = max(pos, b)
        out.append(data[pos:])
        return squash(b"".join(out))
    pattern = _HASH_COMMENT if lang in _HASH_LANGS else _SLASH_COMMENT
    return squash(pattern.sub(b"", data))


_QUERIES: dict[str, object] = {}


def _comment_query(lang: str):
    """A tree-sitter query capturing every comment node kind of ``lang`` (None when there is no grammar)."""
    if lang not in _QUERIES:
        query = None
        try:
            import tree_sitter

            from codeflow.code.languages import comment_node_types, get_language

            language = get_language(lang)
            patterns = []
            for kind in sorted(comment_node_types(lang)):
                try:
                    tree_sitter.Query(language, f"({kind}) @c")
                    patterns.append(f"({kind}) @c")
                except Exception:  # noqa: BLE001 - a kind that cannot stand alone in a query
                    continue
            if lang == "python":
                patterns.append("(expression_statement (string) @c)")  # docstrings
            query = tree_sitter.Query(language, " ".join(patterns)) if patterns else None
        except Exception:  # noqa: BLE001 - unknown language or no grammar installed: regex fallback
            query = None
        _QUERIES[lang] = query
    return _QUERIES[lang]
