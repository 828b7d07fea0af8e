"""``codeflow fim``: fill-in-the-middle samples at file or repository level from code-file shards or repos."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command()
@click.option("--level", type=click.Choice(["file", "repo"]), default="file", show_default=True,
              help="file: one file per sample; repo: same-repo context files before the target.")
@click.option("--input", "inputs", multiple=True, help="Code-file shards (CODE_FILE_SCHEMA): file, folder or glob; "
              "repeatable. At repo level one shard must hold whole repositories (the code stage's output does).")
@click.option("--repos", "repos", default=None, help="Repo list (one path/URL per line): files are read with the "
              "code stage first, into OUT/_code (kept, with its rejects).")
@click.option("--out", required=True, help="Output folder or fsspec URL.")
@click.option("--fim-rate", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Probability a file is FIM'd; otherwise it is emitted plain.")
@click.option("--modes", default="char,line,ast", show_default=True,
              help="Split kinds: char, line, ast (= ast_expression, ast_statement, ast_function) or one AST level.")
@click.option("--mode-weights", default=None,
              help="e.g. 'char=0.2,line=0.3,ast=0.5' or '1,1,2' in --modes order (default: 0.2/0.3/0.15/0.2/0.15).")
@click.option("--max-context-chars", type=click.IntRange(min=0), default=32768, show_default=True,
              help="Repo level: budget for the rendered context files, in characters.")
@click.option("--max-context-files", type=click.IntRange(min=0), default=32, show_default=True,
              help="Repo level: at most this many context files.")
@click.option("--context", "context_mode", type=click.Choice(["units", "units_bm25", "files"]), default="units",
              show_default=True, help="Repo level: units = definitions of imported/used names, import skeletons, "
              "BM25 units; units_bm25 = BM25 units only; files = whole files ranked by --retriever.")
@click.option("--context-tokenizer", default=None, help="Repo level, unit context: the trainer's tokenizer "
              "(tokenizer.json or its folder); the context budget is then --max-context-tokens of its tokens.")
@click.option("--max-context-tokens", type=click.IntRange(min=0), default=8192, show_default=True,
              help="Repo level, with --context-tokenizer: budget for the rendered context files, in tokens.")
@click.option("--retriever", default="bm25_imports", show_default=True,
              help="Repo level, --context files: bm25_imports, bm25, hash_embed (or one you registered).")
@click.option("--max-lines", type=click.IntRange(min=1), default=15, show_default=True,
              help="Line mode: the middle is 1..N whole lines.")
@click.option("--min-middle-bytes", type=click.IntRange(min=1), default=2, show_default=True,
              help="AST mode: smallest node span to use as a middle.")
@click.option("--max-middle-bytes", type=click.IntRange(min=1), default=4096, show_default=True,
              help="AST mode: largest node span to use as a middle.")
@click.option("--max-char-middle", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Char mode: middles of at most this many characters (and --max-char-middle-fraction of the "
              "file); 0 = uncapped (two uniform cut points).")
@click.option("--max-char-middle-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.25,
              show_default=True, help="Char mode: middles of at most this share of the file.")
@click.option("--max-middle-file-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.5,
              show_default=True, help="AST mode: never a node covering more than this share of the file.")
@click.option("--import-weight", type=click.FloatRange(min=0), default=0.003, show_default=True,
              help="AST mode: weight of the import category (ExecRepoBench: 0.10).")
@click.option("--imports-alone", is_flag=True,
              help="AST mode: allow an import middle in a file whose only candidates are imports (default: fall "
              "back to the next level).")
@click.option("--ast-on-config", is_flag=True,
              help="Let config/markup files (YAML, TOML, JSON, HTML, Markdown, ...) take AST splits too "
              "(default: char/line only).")
@click.option("--keep-stubs", is_flag=True, help="Sample .pyi / .d.ts stubs (default: rejected as stub_file).")
@click.option("--max-file-chars", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Larger files are rejected (file_too_large).")
@click.option("--tokens", "token_preset", type=click.Choice(["qwen", "starcoder"]), default="qwen", show_default=True,
              help="Special-token set (codeflow.fim.tokens).")
@click.option("--seed", type=int, default=0, show_default=True, help="Samples are fixed by (file id, seed, level).")
@click.option("--no-report", is_flag=True, help="Skip OUT/_report.html.")
@engine_options
def fim(level: str, inputs: tuple[str, ...], repos: str | None, out: str, fim_rate: float, modes: str,
        mode_weights: str | None, max_context_chars: int, max_context_files: int, context_mode: str,
        context_tokenizer: str | None, max_context_tokens: int, retriever: str, max_lines: int,
        min_middle_bytes: int, max_middle_bytes: int, max_char_middle: int, max_char_middle_fraction: float,
        max_middle_file_fraction: float, import_weight: float, imports_alone: bool, ast_on_config: bool,
        keep_stubs: bool, max_file_chars: int, token_preset: str, seed: int,
        no_report: bool, engine: str, workers: int, overwrite: bool) -> None:
    """Split files into (prefix, middle, suffix) and render FIM training text; bad files go to OUT/rejects."""
    from codeflow.fim.run import run_fim
    from codeflow.fim.sample import expand_modes
    from codeflow.fim.stage import FimConfig, parse_mode_weights
    from codeflow.fim.tokens import get_tokens
    from codeflow.sources import expand_inputs
    from codeflow.ui import print_summary

    if bool(inputs) == bool(repos):
        raise click.UsageError("give exactly one of --input or --repos")
    try:
        kinds = expand_modes(modes)
        cfg = FimConfig(level=level, fim_rate=fim_rate, modes=kinds, mode_weights=parse_mode_weights(mode_weights,
                        kinds), seed=seed, max_lines=max_lines, min_middle_bytes=min_middle_bytes,
                        max_middle_bytes=max_middle_bytes, max_file_chars=max_file_chars,
                        max_char_middle=max_char_middle, max_char_middle_fraction=max_char_middle_fraction,
                        max_middle_file_fraction=max_middle_file_fraction, import_weight=import_weight,
                        imports_alone=imports_alone, text_only_config=not ast_on_config, skip_stubs=not keep_stubs,
                        max_context_chars=max_context_chars, max_context_files=max_context_files,
                        retriever=retriever, context=context_mode, tokens=get_tokens(token_preset),
                        context_tokenizer=context_tokenizer, max_context_tokens=max_context_tokens)
        if context_tokenizer:
            from codeflow.fim.repo_context import token_counter

            token_counter(context_tokenizer)  # a missing or broken tokenizer is a user error, before any work
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    summaries = []
    if repos:
        from codeflow.fim.run import code_shards_from_repos

        if overwrite:  # clear first: the code stage's shards live under OUT/_code
            from codeflow.lake import StageOutput

            StageOutput(out).clear()
            overwrite = False
        code_summary, units = code_shards_from_repos(repos, out, engine=engine, workers=workers)
        summaries.append(code_summary)
    else:
        units = expand_inputs(list(inputs))
        if level == "repo":
            _refuse_split_repos(units)
    summaries.append(run_fim(units, out, cfg, engine=engine, workers=workers, overwrite=overwrite,
                             report=not no_report))
    print_summary(summaries)
    if not no_report:
        click.echo(f"report: {summaries[-1].stats['report']}")


def _refuse_split_repos(units: list[str]) -> None:
    """Repo level needs whole repositories per shard; ``code --split N`` spreads one over N shards, so each
    sample would see a fraction of its context. Its manifest records the split: refuse before any work."""
    import json
    import posixpath

    from codeflow.lake import to_fs

    for folder in sorted({posixpath.dirname(u) for u in units}):
        fs, root = to_fs(folder)
        manifest = posixpath.join(root, "_manifest.json")
        if not fs.exists(manifest):
            continue
        with fs.open(manifest, "rb") as f:
            try:
                split = int((json.load(f).get("config") or {}).get("split") or 1)
            except (ValueError, TypeError, AttributeError):
                continue
        if split > 1:
            raise click.UsageError(f"{folder} was written by `codeflow code --split {split}`: each repository is "
                                   f"spread over {split} shards, so repo-level FIM would lose most of its context; "
                                   f"re-run `codeflow code` without --split for repo level")
