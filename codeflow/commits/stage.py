"""The triplet stage on the runner: one repository per unit, kept triplets plus per-start / per-repo rejects.

Accounting per repository: ``rows_in`` = start commits tried (or 1 for a repository rejected as a whole), and
each becomes exactly one kept triplet or one reject, so rows in = kept + rejected holds per shard and run.
Counters in the stats: repositories in / rejected, commits scanned, and how many walked commits failed each
filter (``filter_<name>``), which the summary shows next to the reject reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
import pygit2

from codeflow.commits import history
from codeflow.commits.assemble import AssemblyError, build
from codeflow.commits.budget import TokenCounter, counter_for
from codeflow.commits.config import TripletConfig
from codeflow.commits.scan import Scanner, restore_libgit2_defaults, unreadable_reason
from codeflow.commits.search import search, size_band
from codeflow.records import TRIPLET_SCHEMA, stable_id
from codeflow.repos import RepoEntry, RepoError, entry_commit, open_repo
from codeflow.stage import Source, Stage, StageResult

STAGE_NAME = "triplets"
MAX_TRIES = 3  # candidate endpoints tried per start before giving up (over budget, empty net change)


class RepoUnitSource(Source):
    """A unit is a repo-list entry (``location<TAB>name``); it is read as a one-row table the stage mines.

    Opening happens in the stage (a pygit2 handle is not an Arrow value); the source only passes the entry on.
    """

    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        entry = RepoEntry.from_unit(unit)
        yield pa.table({"location": [entry.location], "name": [entry.name], "commit": [entry.commit]})


def _reject_key(name: str, location: str, key: str) -> tuple[str, str]:
    """(id, source) of a reject: per start commit (``key``), or for the whole repository (``key`` empty)."""
    return stable_id(name, key, prefix="tri:"), f"{location}@{key}" if key else location


# What a damaged repository raises (missing or corrupt objects, unreadable refs). OSError is not in it: I/O
# failures are transient and propagate to the runner, which retries the unit.
CORRUPT_ERRORS: tuple[type[Exception], ...] = (RepoError, pygit2.GitError, KeyError, ValueError)


def _repo_error(e: Exception) -> tuple[str, str]:
    if isinstance(e, RepoError):
        return e.reason, e.detail
    return unreadable_reason(e), f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


class TripletStage(Stage):
    """Mine up to ``per_repo`` triplets from each repository (see ``codeflow.commits``)."""

    name = STAGE_NAME
    schema = TRIPLET_SCHEMA

    def __init__(self, config: TripletConfig | None = None) -> None:
        super().__init__(config or TripletConfig())

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        commits = batch.column("commit").to_pylist() if "commit" in batch.column_names else [""] * batch.num_rows
        parts = [self.mine(loc, name, commit or "") for loc, name, commit in
                 zip(batch.column("location").to_pylist(), batch.column("name").to_pylist(), commits, strict=True)]
        return StageResult.merge(parts, TRIPLET_SCHEMA)

    def mine(self, location: str, name: str, commit: str = "") -> StageResult:
        """All triplets of one repository (at the pinned ``commit``, else HEAD), or rejects; never raises for a
        bad repository (network failures propagate: the runner retries them)."""
        cfg = self.config
        stats: Counter = Counter(repos_in=1)
        try:
            entry = RepoEntry(location, name, commit=commit)
            repo = open_repo(entry, cfg.clone_cache)
            tip = entry_commit(repo, entry, cfg.clone_cache)
            if repo.is_shallow:
                raise RepoError("shallow_clone", f"{location}: shallow clone; history is incomplete")
            ids = history.first_parent_history(repo, tip.id)
        except CORRUPT_ERRORS as e:  # an unusable repository is one reject, never a crash
            reason, detail = _repo_error(e)
            return self._repo_reject(name, location, reason, detail, stats)
        n = len(ids)
        stats["history_commits"] = n
        if n < cfg.min_history:
            return self._repo_reject(name, location, "too_short_history",
                                     f"{n} first-parent commits < min_history={cfg.min_history}", stats)
        starts = history.sample_starts(n, cfg.window, cfg.per_repo, cfg.seed, name)
        if not starts:  # a window too narrow for this history: the repository's reject, not an IndexError
            return self._repo_reject(name, location, "no_start_in_window",
                                     f"no first-parent commit of {n} lies in window {cfg.window} with a later "
                                     f"commit after it", stats)
        stats["history_merges"] = merges = history.merge_count(repo, ids)
        merge_on = cfg.merge_endpoints
        if merge_on is None:  # auto: the repository-wide majority here; each walk decides for its stretch (search)
            merge_on = merges >= cfg.merge_auto_share * n
        stats["merge_endpoints"] = int(merge_on)
        scanner = Scanner(repo, ids, cfg, merge_endpoints=merge_on)
        reserve = history.redraw_order(n, cfg.window, starts, cfg.seed, name)
        try:
            return self._mine_repo(repo, name, location, ids, starts, reserve, scanner, stats)
        finally:
            restore_libgit2_defaults()  # the scanner's speed settings are process-wide: don't leak them

    def _mine_repo(self, repo: pygit2.Repository, name: str, location: str, ids: list, starts: list[int],
                   reserve: list[int], scanner: Scanner, stats: Counter) -> StageResult:
        cfg = self.config
        n = len(ids)
        try:
            # Scan the whole reachable region up front: the size band must not depend on which walks ran.
            last = min(n - 1, starts[-1] + cfg.max_walk_commits)
            infos = [scanner.get(r) for r in range(starts[0] + 1, last + 1)]
        except CORRUPT_ERRORS as e:  # missing / corrupt commit or tree objects
            return self._repo_reject(name, location, "corrupt_objects", _repo_error(e)[1], stats)
        band = size_band(infos)
        rows: list[dict] = []
        rejects: list[tuple[str, str, str, str]] = []  # id, reason, detail, source
        used_ends: set[int] = set()
        redraws = iter(reserve[:cfg.max_redraws])
        for start in starts:
            key = str(ids[start])
            while True:
                try:
                    row, reason, detail = self._mine_start(repo, name, location, ids, start, scanner, band,
                                                           used_ends, stats)
                except CORRUPT_ERRORS as e:  # a corrupt blob hits only the starts that need it
                    row, (reason, detail) = None, _repo_error(e)
                if reason != "endpoint_taken" or (start := next(redraws, None)) is None:
                    break
                stats["starts_redrawn"] += 1  # one triplet per endpoint: a fresh start replaces this one
            if row is not None:
                rows.append(row)
            else:
                rid, source = _reject_key(name, location, key)
                rejects.append((rid, reason, detail[:500], source))
        for k, v in scanner.filter_counts.items():
            stats[f"filter_{k}"] += v
        stats.update(scanner.unreadable_counts)  # commits skipped: their diff needs a missing / corrupt object
        stats.update(rows_in=len(starts), commits_scanned=scanner.scanned, merges_diffed=scanner.measured_merges,
                     triplets=len(rows))
        if not rows:
            stats["repos_without_triplets"] = 1
        kept = pa.Table.from_pylist(rows, schema=TRIPLET_SCHEMA) if rows else TRIPLET_SCHEMA.empty_table()
        ids, reasons, details, sources = (list(c) for c in zip(*rejects, strict=True)) if rejects else ([],) * 4
        return StageResult(kept, self.reject(ids, reasons, details, sources), stats)

    def _mine_start(self, repo: pygit2.Repository, name: str, location: str, ids: list, start: int,
                    scanner: Scanner, band: tuple[float, float], used_ends: set[int],
                    stats: Counter) -> tuple[dict | None, str, str]:
        result = search(scanner, start, band)
        stats["walks_with_merge_endpoints"] += int(result.merges)
        if not result.candidates:
            return None, *result.failure()
        free = [c for c in result.candidates if c.end_rank not in used_ends]
        if not free:
            return None, "endpoint_taken", f"all {len(result.candidates)} candidate endpoints already closed " \
                                           f"another triplet of this repository"
        last_error = AssemblyError("no_endpoint")
        for cand in free[:MAX_TRIES]:
            steps = [scanner.get(r) for r in range(cand.start_rank + 1, cand.end_rank + 1)]
            try:
                row = build(repo, name, location, ids, cand, steps, result.walked, self.config, self.counter)
            except AssemblyError as e:
                last_error = e
                continue
            used_ends.add(cand.end_rank)
            return row, "", ""
        return None, last_error.reason, last_error.detail

    @property
    def counter(self) -> TokenCounter:
        """The budget's token counter, loaded once per process (not an attribute: the stage is pickled)."""
        return counter_for(self.config.tokenizer, self.config.chars_per_token)

    def _repo_reject(self, name: str, location: str, reason: str, detail: str, stats: Counter) -> StageResult:
        stats.update(rows_in=1, repos_rejected=1)
        rid, source = _reject_key(name, location, "")
        return StageResult(TRIPLET_SCHEMA.empty_table(), self.reject([rid], reason, detail[:500], source), stats)
