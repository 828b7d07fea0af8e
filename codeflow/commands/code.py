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
@click.option("--cache-dir", default=None, help="Where clone URLs are cloned (default: $CODEFLOW_REPO_CACHE or "
                                                "~/.cache/codeflow/repos).")
@engine_options
def code(repo_list: str | None, inputs: tuple[str, ...], out: str, languages: tuple[str, ...], max_bytes: int,
         text_column: str | None, split: int, no_ast_metrics: bool, cache_dir: str | None, engine: str, workers: int,
         overwrite: bool) -> None:
    """Parse every file with tree-sitter; keep valid code with metrics, reject the rest with a reason."""
    from codeflow.code.languages import LANGUAGES, normalize_language
    from codeflow.code.quality import CodeConfig
    from codeflow.code.run import run_code_inputs, run_code_repos
    from codeflow.errors import CodeflowError
    from codeflow.ui import print_summary

    if bool(repo_list) == bool(inputs):
        raise click.UsageError("give exactly one of --repos LIST or --input PATH")
    langs = []
    for name in languages:
        norm = normalize_language(name)
        if norm is None:
            raise CodeflowError(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}")
        langs.append(norm)
    cfg = CodeConfig(max_bytes=max_bytes, languages=tuple(sorted(set(langs))), ast_metrics=not no_ast_metrics)
    if repo_list:
        summary = run_code_repos(repo_list, out, cfg, engine=engine, workers=workers, overwrite=overwrite,
                                 cache_dir=cache_dir, split=split)
    else:
        summary = run_code_inputs(inputs, out, cfg, engine=engine, workers=workers, overwrite=overwrite,
                                  text_column=text_column)
    print_summary([summary])
