"""The lifecycle of a repository: first-parent history of HEAD, percentiles, seeded start sampling.

First-parent order is the project's own timeline (the mainline as merged), independent of how many commits a
feature branch had; a commit's lifecycle percentile is ``rank / (n - 1)`` with rank 0 the root. Starts are
sampled inside the window with a RNG seeded by (seed, repo name), so a re-run, another engine or another
shard order picks the same starts.
"""

from __future__ import annotations

import math
import random

import pygit2
from pygit2.enums import SortMode

from codeflow.records import stable_id


def first_parent_history(repo: pygit2.Repository, tip: pygit2.Oid | None = None) -> list[pygit2.Oid]:
    """Commit ids of the first-parent chain ending at ``tip`` (default HEAD; runs pass the pinned commit),
    oldest first."""
    walker = repo.walk(tip if tip is not None else repo.head.target, SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    ids = [c.id for c in walker]
    ids.reverse()
    return ids


def percentile(rank: int, n: int) -> float:
    return rank / (n - 1) if n > 1 else 0.0


def window_ranks(n: int, window: tuple[float, float]) -> range:
    """Ranks whose percentile lies inside ``window`` (inclusive) and that have at least one later commit."""
    if n < 2:
        return range(0)
    lo = math.ceil(window[0] * (n - 1) - 1e-9)
    hi = math.floor(window[1] * (n - 1) + 1e-9)
    return range(max(lo, 0), min(hi, n - 2) + 1)


def sample_starts(n: int, window: tuple[float, float], k: int, seed: int, repo_name: str) -> list[int]:
    """``k`` distinct start ranks inside the window (all of them when fewer), sorted; deterministic."""
    ranks = list(window_ranks(n, window))
    if len(ranks) <= k:
        return ranks
    rng = random.Random(int(stable_id(str(seed), repo_name)[:16], 16))
    return sorted(rng.sample(ranks, k))


def redraw_order(n: int, window: tuple[float, float], starts: list[int], seed: int, repo_name: str) -> list[int]:
    """The window's other ranks in a seeded order: fresh starts for starts whose endpoints are all taken."""
    taken = set(starts)
    ranks = [r for r in window_ranks(n, window) if r not in taken]
    random.Random(int(stable_id(str(seed), repo_name, "redraw")[:16], 16)).shuffle(ranks)
    return ranks


def merge_count(repo: pygit2.Repository, ids: list[pygit2.Oid]) -> int:
    """Merge commits on the first-parent history (their share decides ``merge_endpoints`` when it is auto)."""
    return sum(len(repo[i].parent_ids) > 1 for i in ids)
