"""Assemble a triplet record: files before, the patch, files after, related context, stats and training text.

The patch is libgit2's tree diff start -> end (no rename detection, file modes ignored), restricted to text files
that are not noise; every left-out file is listed in ``skipped_files`` with its reason. The record is kept only
if ``apply_patch(files_old, patch) == files_new`` (the apply invariant).
"""

from __future__ import annotations

import re

import pygit2
from pygit2.enums import DiffOption

from codeflow.commits import messages, paths
from codeflow.commits.budget import TokenCounter
from codeflow.commits.config import TripletConfig
from codeflow.commits.context import select_context
from codeflow.commits.layout import Context, Fitter, OverBudget, Touched, changed_ranges
from codeflow.commits.patchapply import PatchError, apply_patch
from codeflow.commits.scan import NULL_OID, SPECIAL_MODES, CommitInfo
from codeflow.commits.search import Candidate
from codeflow.records import stable_id
from codeflow.tokens import END_OF_SAMPLE

INDEX_MODE = re.compile(r"^(index [0-9a-f]+\.\.[0-9a-f]+) [0-7]{6}$", re.M)
MODE_CHANGE = re.compile(r"^old mode [0-7]{6}\nnew mode [0-7]{6}\n", re.M)
FILE_MODE = re.compile(r"^(new|deleted) file mode 100755$", re.M)
TEMPLATE_DOC = """\
<|repo_name|>{repo}
<|context|>                       (only when some context file is shown)
<|file_sep|>{path}
{view}                            (whole file, or its outline: definition headers, bodies elided)
...
<|commit_before|>
<|file_sep|>{path}
{view of the old content}         (one block per files_old entry: whole, touched definitions, hunk windows or
                                   elided; CHANGES / README / CI files always elided: their diff is the patch)
<|commit_msg|>
{messages, oldest first, separated by a blank line}
<|commit_patch|>
{patch}
<|commit_after|>
<|file_sep|>{path}
{view of the new content}         (one block per files_new entry, same level as its old view)
<|endoftext|>"""


class AssemblyError(Exception):
    """This endpoint cannot make a triplet; ``reason`` says why (the caller tries the next candidate)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def _block(path: str, view: str) -> str:
    return f"<|file_sep|>{path}\n{view}"


def render_text(repo: str, context: list[tuple[str, str]], old: list[tuple[str, str]], msgs: list[str], patch: str,
                new: list[tuple[str, str]]) -> str:
    """The training text of a triplet from ``(path, view)`` pairs; the template is ``TEMPLATE_DOC``."""
    parts = [f"<|repo_name|>{repo}\n"]
    if context:
        parts.append("<|context|>\n")
        parts += [_block(p, v) for p, v in context]
    parts.append("<|commit_before|>\n")
    parts += [_block(p, v) for p, v in old]
    parts.append("<|commit_msg|>\n" + "\n\n".join(msgs) + "\n")
    parts.append("<|commit_patch|>\n" + patch)
    parts.append("<|commit_after|>\n")
    parts += [_block(p, v) for p, v in new]
    parts.append(END_OF_SAMPLE)
    return "".join(parts)


def _decode(repo: pygit2.Repository, oid: str, cfg: TripletConfig) -> tuple[str | None, str | None]:
    """(text, None) or (None, skip reason) for a blob id (the null id is an absent file: empty text)."""
    if oid == NULL_OID:
        return "", None
    blob = repo[oid]
    if blob.size > cfg.max_file_bytes:
        return None, "too_large"
    data = blob.data
    if paths.is_lfs_pointer(data):
        return None, "lfs"
    if blob.is_binary:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "non_utf8"


def build(repo: pygit2.Repository, name: str, source: str, ids: list[pygit2.Oid], cand: Candidate,
          steps: list[CommitInfo], walked: int, cfg: TripletConfig, counter: TokenCounter) -> dict:
    """The triplet row for a candidate step (its effective start to its endpoint); raises ``AssemblyError``
    when it cannot be one. ``counter`` measures the budget (``cfg.max_tokens``)."""
    n = len(ids)
    start_rank = cand.start_rank
    start, end = repo[ids[start_rank]], repo[ids[cand.end_rank]]
    diff = repo.diff(start.tree, end.tree, flags=DiffOption.IGNORE_FILEMODE | DiffOption.IGNORE_SUBMODULES,
                     context_lines=cfg.context_lines)
    old_files: list[dict] = []
    new_files: list[dict] = []
    skipped: list[dict] = []
    chunks: list[str] = []
    added = removed = 0
    classes: dict[str, str] = {}
    ranges: dict[str, tuple[list, list]] = {}
    for patch in diff:
        delta = patch.delta
        old_f, new_f = delta.old_file, delta.new_file
        path = new_f.path if str(new_f.id) != NULL_OID else old_f.path
        cls = paths.classify(path)
        if cls in paths.NOISE:
            skipped.append({"path": path, "reason": cls})
            continue
        if old_f.mode in SPECIAL_MODES or new_f.mode in SPECIAL_MODES:
            skipped.append({"path": path, "reason": "special"})
            continue
        old_text, why_old = _decode(repo, str(old_f.id), cfg)
        new_text, why_new = _decode(repo, str(new_f.id), cfg)
        why = why_old or why_new or ("binary" if delta.is_binary else None)
        if why:
            skipped.append({"path": path, "reason": why})
            continue
        text = patch.text
        if not text or "\n@@ " not in text:
            continue  # mode-only or empty change: nothing to patch
        # File modes are not part of a triplet (files_old has none): drop mode changes and the mode of the
        # "index" line, write added / deleted files as 100644, or `git apply` warns that a written file "has
        # type 100644, expected 100755".
        text = INDEX_MODE.sub(r"\1", MODE_CHANGE.sub("", text, count=1), count=1)
        text = FILE_MODE.sub(r"\1 file mode 100644", text, count=1)
        chunks.append(text if text.endswith("\n") else text + "\n")
        _, a, r = patch.line_stats
        added, removed = added + a, removed + r
        classes[path] = cls
        ranges[path] = changed_ranges(patch)
        if str(old_f.id) != NULL_OID:
            old_files.append({"path": path, "content": old_text})
        if str(new_f.id) != NULL_OID:
            new_files.append({"path": path, "content": new_text})
    if not chunks:
        reasons = sorted({s["reason"] for s in skipped})
        raise AssemblyError("no_text_changes", "only " + ",".join(reasons) if reasons else "net change is empty")
    patch_text = "".join(chunks)
    tokens = counter.count(patch_text)
    if tokens > cfg.max_patch_tokens:
        raise AssemblyError("over_budget", f"patch {tokens} tokens > {cfg.max_patch_tokens}")
    old_files.sort(key=lambda f: f["path"])
    new_files.sort(key=lambda f: f["path"])
    before = {f["path"]: f["content"] for f in old_files}
    after = {f["path"]: f["content"] for f in new_files}
    try:
        applied = apply_patch(before, patch_text)
    except PatchError as e:
        raise AssemblyError("apply_mismatch", str(e)) from e
    if applied != after:
        raise AssemblyError("apply_mismatch", "patched files differ from the endpoint's files")
    touched = {**before, **after}
    context = select_context(repo, start.tree, end.tree, touched, cfg.max_context_files, cfg.max_context_bytes,
                             cfg.max_file_bytes)
    msgs = [m for m in (messages.clean(s.message) for s in steps) if m]
    text, text_tokens, _ = _fit_text(name, context, before, after, ranges, msgs, patch_text, cfg, counter)
    langs = sorted({lang for p in classes if (lang := paths.language(p))})
    stats = {"files": len(classes), "added": added, "removed": removed,
             "source_files": sum(c == "source" for c in classes.values()),
             "test_files": sum(c == "test" for c in classes.values()), "languages": langs,
             "patch_tokens": tokens, "text_tokens": text_tokens, "walked": walked}
    return {
        "id": stable_id(name, str(start.id), str(end.id), prefix="tri:"),
        "repo": name,
        "source": source,
        "start_commit": str(start.id),
        "end_commit": str(end.id),
        "start_percentile": round(start_rank / (n - 1), 6),
        "end_percentile": round(cand.end_rank / (n - 1), 6),
        "n_commits": cand.end_rank - start_rank,
        "messages": msgs,
        "files_old": old_files,
        "patch": patch_text,
        "files_new": new_files,
        "context_files": context,
        "skipped_files": sorted(skipped, key=lambda s: s["path"]),
        "stats": stats,
        "score": cand.score,
        "score_parts": cand.parts,
        "text": text,
    }


def _fit_text(name: str, context: list[dict], before: dict[str, str], after: dict[str, str],
              ranges: dict[str, tuple[list, list]], msgs: list[str], patch_text: str, cfg: TripletConfig,
              counter: TokenCounter) -> tuple[str, int, dict[str, str]]:
    """(text, its tokens, touched path -> view level) within ``cfg.max_tokens`` (``layout``), else
    ``AssemblyError("over_budget")``. Per-piece counts are summed while fitting; the final text is counted
    whole, and in the rare case where a tokenizer merges across pieces the fit is redone with the excess off."""
    fixed = counter.count(render_text(name, [], [], msgs, patch_text, []))
    if fixed > cfg.max_tokens:
        raise AssemblyError("over_budget", f"message + patch alone are {fixed} tokens > {cfg.max_tokens}")
    budget = cfg.max_tokens
    for _ in range(3):
        touched = [Touched(p, before.get(p), after.get(p), *ranges[p]) for p in sorted({*before, *after})]
        ctx = [Context(c["path"], c["content"]) for c in context]
        try:
            lay = Fitter(counter, budget, cfg.whole_budget).fit(fixed, touched, ctx)
        except OverBudget as e:
            raise AssemblyError("over_budget", f"{e} > {cfg.max_tokens}") from None
        text = render_text(name, lay.context, lay.old, msgs, patch_text, lay.new)
        tokens = counter.count(text)
        if tokens <= cfg.max_tokens:
            return text, tokens, lay.levels
        budget -= tokens - cfg.max_tokens
    raise AssemblyError("over_budget", f"{tokens} tokens > {cfg.max_tokens} after refitting")
