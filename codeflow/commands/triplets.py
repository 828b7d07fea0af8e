"""``codeflow build-triplets``: mine (R_old, P, R_new) commit triplets from a list of repositories."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


def _window(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value.split(":"))
    except ValueError:
        raise click.BadParameter("expected LO:HI, e.g. 0.4:0.8") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise click.BadParameter("need 0 <= LO < HI <= 1 (a start needs room for later commits)")
    return lo, hi


@click.command("build-triplets")
@click.option("--repos", "repos", required=True, type=click.Path(dir_okay=False),
              help="Repo list: one local path (working tree or bare) or clone URL per line, optional <TAB>name; "
                   "# comments allowed.")
@click.option("--out", required=True, help="Output folder or fsspec URL (e.g. ./lake/triplets/run1).")
@click.option("--window", default="0.4:0.8", show_default=True, callback=_window,
              help="Lifecycle percentile window LO:HI of first-parent history for start commits.")
@click.option("--per-repo", type=click.IntRange(min=1), default=4, show_default=True,
              help="Start commits (so at most triplets) per repository.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the start sampling.")
@click.option("--min-history", type=click.IntRange(min=2), default=10, show_default=True,
              help="Repositories with fewer first-parent commits are rejected as too_short_history.")
@click.option("--max-lines", type=click.IntRange(min=1), default=400, show_default=True,
              help="Budget of the endpoint search: cumulative added+removed lines.")
@click.option("--merge-endpoints/--no-merge-endpoints", default=None,
              help="Let merge commits close a step (pull-request workflows). Default: on for a walk when at least "
                   "half of the commits ahead of its start are merges.")
@click.option("--max-tokens", type=click.IntRange(min=256), default=16384, show_default=True,
              help="Budget of each triplet's text; message and patch stay complete, files become views.")
@click.option("--tokenizer", default=None,
              help="The trainer's tokenizer.json (or its folder) to count tokens with; default: chars / 2.5.")
@click.option("--clone-cache", default=None,
              help="Folder for clones of URLs (default: $CODEFLOW_REPO_CACHE or ~/.cache/codeflow/repos).")
@engine_options
def build_triplets(repos: str, out: str, window: tuple[float, float], per_repo: int, seed: int, min_history: int,
                   max_lines: int, merge_endpoints: bool | None, max_tokens: int, tokenizer: str | None,
                   clone_cache: str | None, engine: str, workers: int,
                   overwrite: bool) -> None:
    """Mine commit triplets; bad repositories become rejects in OUT/rejects and the run goes on."""
    from codeflow.commits.config import TripletConfig
    from codeflow.commits.run import run_build_triplets
    from codeflow.ui import print_summary

    cfg = TripletConfig(window=window, per_repo=per_repo, seed=seed, min_history=min_history, max_lines=max_lines,
                        merge_endpoints=merge_endpoints, max_tokens=max_tokens, tokenizer=tokenizer,
                        clone_cache=clone_cache)
    if tokenizer:
        from codeflow.commits.budget import counter_for

        counter_for(tokenizer, cfg.chars_per_token)  # a bad path is a one-line user error now, not per repository
    summary = run_build_triplets(repos, out, cfg, engine=engine, workers=workers, overwrite=overwrite)
    print_summary([summary])
