"""The triplet miner's configuration: every threshold of the window, the filters, the search and the record."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TripletConfig:
    """Frozen (picklable, hashable into the lake's config hash) knobs of ``build-triplets``.

    Defaults follow the anchors in ``docs/triplets.md``: the 40-80% lifecycle window of the IQuest report,
    R2E-Gym's "small commit" limits for one commit, CommitPack / CommitChronicle message filters, and a
    cumulative budget so a triplet stays a single reviewable development step.
    """

    window: tuple[float, float] = (0.4, 0.8)  # lifecycle percentiles (rank / (n - 1)) where starts may lie
    per_repo: int = 4  # start commits sampled per repository (fewer when the window holds fewer)
    seed: int = 0
    min_history: int = 10  # first-parent commits below which a repo is rejected as too_short_history
    # endpoint search: walk forward at most this far, and stop once the cumulative change is over budget
    max_walk_commits: int = 32
    # a step is its endpoint plus the commits just before it that share files with it (no boilerplate between);
    # the commits from the sampled start up to the step are skipped, at most this many (the start "moves")
    max_start_shift: int = 8
    max_lines: int = 400  # cumulative added + removed lines over the kept paths
    max_files: int = 20  # cumulative text files in the patch
    max_patch_tokens: int = 8192  # patch size budget, in the tokens of ``budget.TokenCounter``
    # the whole training text (message and patch complete, files as views: docs/triplets.md, layout)
    max_tokens: int = 16384
    # whole files (and whole context files) only while the text stays within this; None: 3/8 of max_tokens
    whole_tokens: int | None = None
    tokenizer: str | None = None  # the trainer's tokenizer.json (or its folder); None: chars / chars_per_token
    chars_per_token: float = 2.5
    # one commit may be an endpoint only inside these limits (R2E-Gym "small commit", loosened a little)
    commit_max_source_files: int = 8
    commit_max_lines: int = 300
    # a commit this big is a wall: the walk never crosses it (a vendored import, a mass reformat)
    giant_files: int = 300
    giant_lines: int = 5000
    max_file_bytes: int = 512_000  # larger blobs are left out of the patch and listed as too_large
    # related unchanged files stored with the triplet
    max_context_files: int = 4
    max_context_bytes: int = 65_536
    context_lines: int = 3  # unified-diff context of the patch
    min_score: float = 0.0  # endpoints scoring below this are not taken
    # Pull-request workflows put (almost) only merges on the first-parent line; with this on, a merge may close a
    # step (judged on its merged change and its cleaned message, e.g. the PR title) instead of being skipped.
    # None (default, auto): per walk, on when merges are at least ``merge_auto_share`` of the commits it may walk
    merge_endpoints: bool | None = None
    merge_auto_share: float = 0.5
    max_redraws: int = 8  # fresh starts tried, per repository, for starts whose every endpoint is already taken
    verify_object_hashes: bool = False  # libgit2 strict hash verification on every object read (slow)
    clone_cache: str | None = None  # where URLs are cloned (default: $CODEFLOW_REPO_CACHE or ~/.cache/codeflow)

    @property
    def whole_budget(self) -> int:
        """The soft limit under which whole files are shown (docs/triplets.md, layout)."""
        return self.max_tokens * 3 // 8 if self.whole_tokens is None else min(self.whole_tokens, self.max_tokens)

    def __post_init__(self) -> None:
        lo, hi = self.window
        if not (0.0 <= lo <= hi <= 1.0):
            raise ValueError(f"window must satisfy 0 <= lo <= hi <= 1, got {self.window}")
        if self.per_repo < 1:
            raise ValueError("per_repo must be >= 1")
        if self.whole_tokens is not None and self.whole_tokens < 0:
            raise ValueError("whole_tokens must be >= 0")
        if self.max_tokens < 256 or self.max_patch_tokens < 1 or self.chars_per_token <= 0:
            raise ValueError("max_tokens must be >= 256, max_patch_tokens >= 1 and chars_per_token > 0")
