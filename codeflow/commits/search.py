"""Forward endpoint search from a start commit, and the score that picks among candidate endpoints.

Walk up to ``max_walk_commits`` first-parent commits after the sampled start. A commit that fails a per-commit
filter (``Scanner.endpoint_filter``) cannot close a triplet; a giant commit is a wall, and so is a commit whose
diff needs a missing or corrupt object (``missing_objects``). Every commit that passes is a candidate endpoint
with a **single-intent step** (``_span_start``): the endpoint plus the commits right before it that share a
file with it, stopping at the first one that does not, at boilerplate (release, version bump, change log, badge,
branch sync, bot: ``messages.is_boilerplate``) and at the step budget (``max_lines`` changed lines, documentation
lines not charged; ``max_files`` files). The commits between the sampled start and the step are skipped: the
step's effective start is the commit before it (at most ``max_start_shift`` commits after the sampled start;
beyond that the candidate is counted as ``unrelated_span``). Each candidate is scored on its step:

    score = 0.30 band + 0.25 message + 0.20 tests + 0.10 source + 0.10 locality + 0.05 focus

- band: 1 when the cumulative changed lines lie inside the repository's 5-95% band of per-commit sizes
  (CommitChronicle's outlier rule), decaying as exp(-|ln(lines / nearest bound)|) outside it;
- message: mean ``messages.quality`` of the step's commits (merges only when a message is left after their
  boilerplate header is removed);
- tests: 1 when tests are touched alongside non-test source (R2E-Gym, SWE-rebench), else 0;
- source: share of changed text files that are source code;
- locality: 1 / number of distinct directories touched ("localized changes", LoopCoder);
- focus: 1 / sqrt(commits in the step) (one intention per step).

The best score wins; ties go to the shorter step, so the choice is deterministic.
"""

from __future__ import annotations

import math
import posixpath
from collections import Counter
from dataclasses import dataclass, field

from codeflow.commits import messages
from codeflow.commits.scan import SPECIFIC_REASONS, CommitInfo, Scanner

WEIGHTS = {"band": 0.30, "message": 0.25, "tests": 0.20, "source": 0.10, "locality": 0.10, "focus": 0.05}


@dataclass
class Candidate:
    start_rank: int  # the effective start: the sampled start, moved past commits that are not this step's
    end_rank: int
    score: float
    parts: dict[str, float]


@dataclass
class SearchResult:
    start_rank: int
    candidates: list[Candidate] = field(default_factory=list)  # best first
    filters: Counter = field(default_factory=Counter)  # filter name -> commits walked that failed it
    stop: str = "end_of_history"
    walked: int = 0
    unreadable_detail: str = ""  # the commit whose objects stopped the walk
    merges: bool = False  # whether merges could close a step on this walk

    def failure(self) -> tuple[str, str]:
        """(reason, detail) of a start without an endpoint."""
        detail = f"walked {self.walked} commits, stop={self.stop}; filters: " + \
            ", ".join(f"{k}={v}" for k, v in sorted(self.filters.items()))
        if self.stop == "giant_diff" and self.walked <= 1:
            return "giant_diff", detail
        if self.stop in ("missing_objects", "corrupt_objects"):  # the walk hit a commit it cannot read
            return self.stop, detail + (f"; {self.unreadable_detail}" if self.unreadable_detail else "")
        if self.filters:
            top = self.filters.most_common(1)[0][0]
            if top in SPECIFIC_REASONS and self.filters[top] == sum(self.filters.values()):
                return SPECIFIC_REASONS[top], detail
        if self.stop == "giant_diff":
            return "giant_diff", detail
        return "no_endpoint", detail


def size_band(infos: list[CommitInfo]) -> tuple[float, float]:
    """5th and 95th percentile of changed lines per non-merge, non-giant commit (nearest rank)."""
    sizes = sorted(i.lines for i in infos if not i.is_merge and not i.giant and i.lines > 0)
    if not sizes:
        return 1.0, 1.0
    def pick(q: float) -> float:
        return float(sizes[min(len(sizes) - 1, max(0, math.ceil(q * len(sizes)) - 1))])
    return pick(0.05), pick(0.95)


def score_step(infos: list[CommitInfo], band: tuple[float, float]) -> tuple[float, dict[str, float]]:
    """Score the step made of ``infos`` (the commits after the start, up to the candidate endpoint)."""
    files: dict[str, str] = {}
    lines = 0
    for info in infos:
        for f in info.kept:
            files[f.path] = f.cls
        lines += info.lines
    classes = Counter(files.values())
    lo, hi = band
    if lo <= lines <= hi:
        band_score = 1.0
    else:
        bound = lo if lines < lo else hi
        band_score = math.exp(-abs(math.log(max(lines, 1) / max(bound, 1))))
    msgs = [messages.quality(i.message) for i in infos if not i.is_merge or messages.clean(i.message)]
    dirs = {posixpath.dirname(p) for p in files}
    parts = {
        "band": band_score,
        "message": sum(msgs) / len(msgs) if msgs else 0.0,
        "tests": 1.0 if classes["test"] and classes["source"] else 0.0,
        "source": classes["source"] / len(files) if files else 0.0,
        "locality": 1.0 / len(dirs) if dirs else 0.0,
        "focus": 1.0 / math.sqrt(len(infos)),
    }
    parts = {k: round(v, 6) for k, v in parts.items()}
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()), 6), parts


def _span_start(steps: list[CommitInfo], cfg) -> tuple[int, int, int]:
    """(index into ``steps`` where the endpoint's single-intent span begins, its code lines, its files).

    Going back from the endpoint (``steps[-1]``), a commit joins the span only if it shares a file with the
    endpoint, is not boilerplate (``messages.is_boilerplate``) and keeps the span inside the budget; the first
    one that does not ends the span, and the step's effective start is the commit before the span.
    """
    end = steps[-1]
    end_paths = {f.path for f in end.kept}
    lines, files = end.code_lines, set(end_paths)
    first = len(steps) - 1
    for i in range(len(steps) - 2, -1, -1):
        prev = steps[i]
        prev_paths = {f.path for f in prev.kept}
        if not (prev_paths & end_paths) or messages.is_boilerplate(prev.message, prev.author, prev.email,
                                                                    prev.is_merge):
            break
        if lines + prev.code_lines > cfg.max_lines or len(files | prev_paths) > cfg.max_files:
            break
        lines, files, first = lines + prev.code_lines, files | prev_paths, i
    return first, lines, len(files)


def search(scanner: Scanner, start_rank: int, band: tuple[float, float]) -> SearchResult:
    """Candidate endpoints after ``start_rank``, best first (see the module docstring)."""
    cfg = scanner.config
    result = SearchResult(start_rank)
    steps: list[CommitInfo] = []
    n = len(scanner.ids)
    merges = scanner.merge_endpoints
    if cfg.merge_endpoints is None:  # auto: merges close steps where they dominate the stretch this walk covers
        ahead = [scanner.get(r).is_merge for r in range(start_rank + 1, min(n, start_rank + 1 + cfg.max_walk_commits))]
        merges = bool(ahead) and sum(ahead) >= cfg.merge_auto_share * len(ahead)
    result.merges = merges
    for rank in range(start_rank + 1, n):
        if len(steps) >= cfg.max_walk_commits:
            result.stop = "max_walk_commits"
            break
        info = scanner.measure(scanner.get(rank))
        if info.unreadable:
            # A commit whose diff needs an object we cannot read is a wall: no triplet may span or end on it.
            result.walked += 1
            result.filters[info.unreadable] += 1
            result.stop, result.unreadable_detail = info.unreadable, info.unreadable_detail
            break
        if info.giant:
            result.walked += 1
            result.stop = "giant_diff"
            break
        steps.append(info)
        result.walked += 1
        reason = scanner.endpoint_filter(info, merges)
        if reason:
            result.filters[reason] += 1
            continue
        first, lines, files = _span_start(steps, cfg)
        if lines > cfg.max_lines or files > cfg.max_files:  # a lone endpoint over the step budget
            result.filters["too_large"] += 1
            continue
        if first > cfg.max_start_shift:  # keep the step near the sampled start (its lifecycle percentile)
            result.filters["unrelated_span"] += 1
            continue
        score, parts = score_step(steps[first:], band)
        if score >= cfg.min_score:
            result.candidates.append(Candidate(start_rank + first, rank, score, parts))
    result.candidates.sort(key=lambda c: (-c.score, c.end_rank))
    return result
