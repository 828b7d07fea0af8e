"""``codeflow code``: validate source files from git repositories or from the lake into code-file shards."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command()
@click.option("--repos", "repo_list", default=None,
              help="Repo list: one local path (working tree or bare repo) or clone URL per line, optional "
                   "<TAB>name, '#' comments. Files at HEAD are read from the object store.")
@click.option("--input", "inputs", multiple=True,
              help="Parquet/JSONL files of code blocks or files already in the lake (file, folder or glob); "
                   "repeatable.")
@click.option("--out", required=True, help="Output folder or fsspec URL (e.g. ./lake/code/run1).")
@click.option("--language", "languages", multiple=True,
              help="Keep only these registry languages (repeatable); others are rejected as unknown_language.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Files larger than this are rejected as too_large without being read.")
@click.option("--text-column", default=None, help="--input only: column with the code (default: content, code, "
                                                   "text).")
@click.option("--split", type=click.IntRange(min=1), default=1, show_default=True,
              help="--repos only: cut every repository into this many units by path hash, so one huge repository "
                   "spreads over many workers.")
@click.option("--no-ast-metrics", is_flag=True, help="Skip max_depth / function_count / comment_ratio (faster).")
@click.option("--reject-config", "config_groups", default="bots", show_default=True,
              help="Path-rule groups rejected as `config` (comma list, or 'none'): bots = funding, dependabot, "
                   "renovate, issue templates, labelers, codecov ...; ci = CI pipelines (GitHub workflows, GitLab "
                   "CI, Travis ...). Lists: codeflow.pathrules.CONFIG_GROUPS.")
@click.option("--fixture-max-bytes", type=click.IntRange(min=0), default=256, show_default=True,
              help="Markup / data files smaller than this under a test folder are rejected as `fixture` (0: off).")
@click.option("--strict-parse", is_flag=True,
              help="Reject every parse error as syntax_error, also errors only inside macro token trees or on "
                   "preprocessor lines (tolerated and counted by default).")
@click.option("--cache-dir", default=None, help="Where clone URLs are cloned (default: $CODEFLOW_REPO_CACHE or "
                                                "~/.cache/codeflow/repos).")
@engine_options
def code(repo_list: str | None, inputs: tuple[str, ...], out: str, languages: tuple[str, ...], max_bytes: int,
         text_column: str | None, split: int, no_ast_metrics: bool, config_groups: str, fixture_max_bytes: int,
         strict_parse: bool, cache_dir: str | None, engine: str, workers: int, overwrite: bool) -> None:
    """Parse every file with tree-sitter; keep valid code with metrics, reject the rest with a reason."""
    from codeflow.code.languages import LANGUAGES, normalize_language
    from codeflow.code.quality import CodeConfig
    from codeflow.code.run import run_code_inputs, run_code_repos
    from codeflow.errors import CodeflowError
    from codeflow.pathrules import config_paths
    from codeflow.ui import console, print_summary

    if bool(repo_list) == bool(inputs):
        raise click.UsageError("give exactly one of --repos LIST or --input PATH")
    langs = []
    for name in languages:
        norm = normalize_language(name)
        if norm is None:
            raise CodeflowError(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}")
        langs.append(norm)
    groups = [g.strip() for g in config_groups.split(",") if g.strip() and g.strip() != "none"]
    try:
        config_globs = config_paths(groups)
    except ValueError as e:
        raise CodeflowError(str(e)) from None
    cfg = CodeConfig(max_bytes=max_bytes, languages=tuple(sorted(set(langs))), ast_metrics=not no_ast_metrics,
                     config_paths=config_globs, fixture_max_bytes=fixture_max_bytes,
                     tolerate_grammar_gaps=not strict_parse)
    if repo_list:
        summary = run_code_repos(repo_list, out, cfg, engine=engine, workers=workers, overwrite=overwrite,
                                 cache_dir=cache_dir, split=split)
    else:
        summary = run_code_inputs(inputs, out, cfg, engine=engine, workers=workers, overwrite=overwrite,
                                  text_column=text_column)
    print_summary([summary])
    tolerated = {k.split(".", 1)[1]: v for k, v in sorted(summary.stats.items()) if k.startswith("tolerated.")}
    if tolerated:
        console.print("kept despite parse errors only in grammar gaps: "
                      + ", ".join(f"{k}={int(v):,}" for k, v in tolerated.items()) + " (see report.html)")
