"""Benchmark: FIM samples/s and MB/s per core per split mode, and the AST mode's cost vs a bare tree-sitter parse.

Anchor (same run, same process, same files): ``get_parser(lang).parse(data)`` — nothing else. Ours:

- per-file splitter cost, interleaved with the anchor file by file (rotating order, best of ``--rounds`` per
  file, which keeps load noise on a shared machine from landing on one variant only):
  ``ast_<level>`` = parse + candidate query + ExecRepoBench-style pick (what AST mode adds to a parse);
- whole-stage throughput: ``FimStage.process`` on one Arrow batch per mode at file level (validation, split,
  render, record table), and repo level with BM25 + import-graph context (repos = site-packages top folders).

All timings are CPU time of one process (``time.process_time``): "per core", and other load on a shared machine
does not count. Target: AST mode within ~1.3x of the bare parse.

Split hygiene (on ``--repos list.txt``, the repo-list format of ``codeflow code``, HEAD of each; without it on
the corpus above): every file (code, config, markup, stubs) gets one file-level sample per seed (``fim_rate``
1.0, default mode mix) with the hygiene rules off (anchor: the old splitter — uncapped char middles, any node
below the whole file, decorators left in the prefix, ExecRepoBench's import weight 0.10, AST on config files,
stubs kept) and on (defaults), in the same run. Printed per split kind: middle length p10/p50/p90/p99/max
(characters) and middle ÷ file; then the targets: char middles <= the cap, no function-level middle > 50% of
its file, imports <= 5% of statement-level middles, no AST split of a config/markup file, no stub sampled, no
decorator line left just before a function middle. ``--hygiene-only`` exits 1 when a target is missed.

    python bench/fim.py                    # bundled sample repo (all languages) + site-packages Python / C / C++
    python bench/fim.py --max-mb 10 --rounds 5
    python bench/fim.py --repos repos.txt --hygiene-only --seeds 3
"""

from __future__ import annotations

import argparse
import random
import re
import sysconfig
import time
from pathlib import Path

import numpy as np


def corpus(max_mb: float, max_file: int = 200_000) -> list[dict]:
    """Real code as CODE_FILE rows: the bundled sample repo plus site-packages files (capped per extension)."""
    from codeflow.code.languages import language_for_path
    from codeflow.demo import sample_path

    rows = []

    def add(repo: str, path: str, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        lang = language_for_path(path, text.split("\n", 1)[0])
        if text.strip() and "<|" not in text:
            rows.append({"id": f"{repo}/{path}", "repo": repo, "path": path, "language": lang, "content": text})

    root = Path(sample_path("code", "repo"))
    for p in sorted(root.rglob("*")):
        if p.is_file():
            add("sample", p.relative_to(root).as_posix(), p.read_bytes())
    site = Path(sysconfig.get_paths()["purelib"])
    budget = {".py": max_mb * 0.6e6, ".h": max_mb * 0.2e6, ".hpp": max_mb * 0.1e6, ".c": max_mb * 0.05e6,
              ".cpp": max_mb * 0.05e6}
    for p in sorted(site.rglob("*")):
        if p.suffix in budget and budget[p.suffix] > 0 and "codeflow" not in p.parts and p.is_file():
            data = p.read_bytes()
            if len(data) <= max_file:
                rel = p.relative_to(site)
                add(rel.parts[0], "/".join(rel.parts[1:]) or rel.name, data)
                budget[p.suffix] -= len(data)
    return rows


def repo_rows(repo_list: str, max_bytes: int = 200_000) -> list[dict]:
    """CODE_FILE-like rows of every UTF-8 file at HEAD of each repository of a repo list (language from the
    registry, None for files it does not know: Markdown, XML, ...), as the fim stage would get them."""
    from codeflow.code.languages import language_for_path
    from codeflow.fim.format import check_text
    from codeflow.repos import TreeFile, head_commit, iter_tree, open_repo, read_repo_list

    rows = []
    for entry in read_repo_list(repo_list):
        repo = open_repo(entry)
        for item in iter_tree(repo, head_commit(repo).tree):
            if not isinstance(item, TreeFile) or item.kind != "blob":
                continue
            blob = repo[item.oid]
            if blob.size > max_bytes or b"\0" in blob.data[:8000]:
                continue
            try:
                text = blob.data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text.strip() and not check_text(text):
                rows.append({"id": f"{entry.name}:{item.path}", "repo": entry.name, "path": item.path,
                             "language": language_for_path(item.path, text.split("\n", 1)[0]), "content": text})
    return rows


KIND_ORDER = ("char", "line", "ast_expression", "ast_statement", "ast_function")
# A statement middle that is an import, by its first word (independent of the splitter's own category).
IMPORT_LINE = re.compile(r"\s*(?:import\b|from\s+\S+\s+import\b|use\s|pub\s+use\s|#\s*include\b|using\s|"
                         r"extern\s+crate\b|(?:const|let|var)\s+\w+\s*=\s*require\()")
DECORATOR_LINE = re.compile(r"^\s*(?:@[\w.]+(?:\(.*\))?|#\[.*\])\s*$")  # a line holding only a decorator


def hygiene(rows: list[dict], seeds: int) -> int:
    """Before/after split hygiene on real files: per-kind middle length distributions and the target checks."""
    import pyarrow as pa

    from codeflow.fim.sample import is_stub, is_text_only
    from codeflow.fim.splitters import char_cap
    from codeflow.fim.stage import FimConfig, FimStage

    langs: dict[str, int] = {}
    for r in rows:
        langs[r["language"] or "none"] = langs.get(r["language"] or "none", 0) + 1
    print(f"\n## split hygiene: {len(rows)} files of {len({r['repo'] for r in rows})} repositories, {seeds} seed(s), "
          f"fim_rate 1.0, default mix; languages: "
          + ", ".join(f"{k} {v}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])[:12]))
    before = dict(max_char_middle=0, max_middle_file_fraction=1.0, import_weight=0.10, imports_alone=True,
                  include_decorators=False, text_only_config=False, skip_stubs=False)
    batch = pa.Table.from_pylist(rows)
    by_id = {r["id"]: r for r in rows}
    failed = 0
    results = {}
    for label, extra in (("before (hygiene off, anchor)", before), ("after (defaults)", {})):
        recs, secs = [], 0.0
        for seed in range(seeds):
            cfg = FimConfig(level="file", fim_rate=1.0, seed=seed, **extra)
            t0 = time.process_time()
            out = FimStage(cfg).process(batch, "bench")
            secs += time.process_time() - t0
            assert out.kept.num_rows + out.rejects.num_rows == len(rows)
            recs += out.kept.select(["file_id", "path", "language", "split_kind", "prefix", "middle",
                                     "suffix"]).to_pylist()
        results[label] = (recs, secs)
        print(f"\n### {label}: {len(recs)} samples, {len(recs) / secs:.0f} samples/s per core")
        print(f"{'kind':15s} {'n':>6s} {'p10':>6s} {'p50':>6s} {'p90':>6s} {'p99':>7s} {'max':>7s}   "
              f"{'mid/file p50':>12s} {'p90':>5s} {'max':>5s}")
        for kind in KIND_ORDER:
            ks = [r for r in recs if r["split_kind"] == kind]
            if not ks:
                continue
            lens = np.array([len(r["middle"]) for r in ks])
            share = np.array([len(r["middle"]) / max(1, len(r["prefix"]) + len(r["middle"]) + len(r["suffix"]))
                              for r in ks])
            p = np.percentile(lens, [10, 50, 90, 99])
            q = np.percentile(share, [50, 90])
            print(f"{kind:15s} {len(ks):6d} {p[0]:6.0f} {p[1]:6.0f} {p[2]:6.0f} {p[3]:7.0f} {lens.max():7d}   "
                  f"{q[0]:12.2f} {q[1]:5.2f} {share.max():5.2f}")
        cfg = FimConfig()
        n_file = {r["id"]: len(r["content"]) for r in rows}
        chars = [r for r in recs if r["split_kind"] == "char"]
        over_cap = sum(len(r["middle"]) > char_cap(n_file[r["file_id"]], cfg.max_char_middle,
                                                    cfg.max_char_middle_fraction) for r in chars)
        funcs = [r for r in recs if r["split_kind"] == "ast_function"]
        big_func = sum(len(r["middle"]) > 0.5 * n_file[r["file_id"]] for r in funcs)
        stmts = [r for r in recs if r["split_kind"] == "ast_statement"]
        imports = sum(bool(IMPORT_LINE.match(r["middle"])) for r in stmts)
        ast_cfg = sum(r["split_kind"].startswith("ast_") and is_text_only(r["language"], r["path"]) for r in recs)
        stubs = sum(is_stub(r["path"]) for r in recs)
        deco = sum(bool(r["prefix"].rstrip().rsplit("\n", 1)[-1:] and
                        DECORATOR_LINE.match(r["prefix"].rstrip().rsplit("\n", 1)[-1])) for r in funcs)
        checks = [
            (f"char middles over the cap (min 2000, 25% of file): {over_cap} / {len(chars)}", over_cap == 0),
            (f"function middles > 50% of their file: {big_func} / {len(funcs)}", big_func == 0),
            (f"imports among statement middles: {imports} / {len(stmts)} = {imports / max(1, len(stmts)):.1%}"
             " (target <= 5%)", imports <= 0.05 * len(stmts)),
            (f"AST splits of config/markup files: {ast_cfg}", ast_cfg == 0),
            (f"stub files sampled (.pyi/.d.ts): {stubs}", stubs == 0),
            (f"function middles right after a decorator line: {deco} / {len(funcs)}",
             deco == 0),
        ]
        for text, ok in checks:
            print(f"  [{'ok' if ok else 'MISS'}] {text}")
        if label.startswith("after"):
            failed = sum(not ok for _, ok in checks)
        assert all(r["prefix"] + r["middle"] + r["suffix"] == by_id[r["file_id"]]["content"] for r in recs)
    (_, s0), (_, s1) = results.values()
    print(f"\nafter ÷ before (anchor) stage time: {s1 / s0:.2f}x")
    return failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-mb", type=float, default=6.0, help="cap of the site-packages part of the corpus")
    ap.add_argument("--big-repo", type=int, default=1500, help="files in the one-large-repo test (0: skip)")
    ap.add_argument("--repos", default=None, help="repo list: split hygiene before/after on HEAD of each repository")
    ap.add_argument("--seeds", type=int, default=2, help="split hygiene: samples per file (one per seed)")
    ap.add_argument("--hygiene-only", action="store_true", help="only the split hygiene part (needs --repos)")
    args = ap.parse_args()
    if args.hygiene_only and not args.repos:
        ap.error("--hygiene-only needs --repos")
    if args.repos:
        missed = hygiene(repo_rows(args.repos), args.seeds)
        if args.hygiene_only:
            return 1 if missed else 0

    import pyarrow as pa

    from codeflow.code.languages import get_parser
    from codeflow.fim.ast_split import AstBounds, ast_span, has_level
    from codeflow.fim.splitters import char_span, line_span
    from codeflow.fim.stage import FimConfig, FimStage

    rows = corpus(args.max_mb)
    mb_all = sum(len(r["content"].encode()) for r in rows) / 1e6
    parsed = [(r["content"], r["content"].encode(), r["language"]) for r in rows
              if r["language"] and has_level(r["language"], "statement")]
    mb_parsed = sum(len(d) for _, d, _ in parsed) / 1e6
    for _, _, lang in parsed:
        get_parser(lang)
    bounds = AstBounds()
    print(f"corpus: {len(rows)} files, {mb_all:.2f} MB ({len(parsed)} files / {mb_parsed:.2f} MB with a grammar), "
          f"{len({r['repo'] for r in rows})} repos; {args.rounds} rounds, best per file")

    variants = {
        "bare tree-sitter parse (anchor)": lambda t, d, lang, rng: get_parser(lang).parse(d),
        "ast_expression split": lambda t, d, lang, rng: ast_span(t, d, lang, "expression", rng, bounds),
        "ast_statement split": lambda t, d, lang, rng: ast_span(t, d, lang, "statement", rng, bounds),
        "ast_function split": lambda t, d, lang, rng: ast_span(t, d, lang, "function", rng, bounds),
        "line split": lambda t, d, lang, rng: line_span(t, rng),
        "char split": lambda t, d, lang, rng: char_span(t, rng),
    }
    names = list(variants)
    best = {n: [float("inf")] * len(parsed) for n in names}
    clock = time.process_time  # CPU time of this process: per-core cost, robust to other load on a shared machine
    for r in range(args.rounds):
        for i, (t, d, lang) in enumerate(parsed):
            for k in range(len(names)):
                name = names[(i + r + k) % len(names)]
                rng = random.Random(i)
                t0 = clock()
                variants[name](t, d, lang, rng)
                best[name][i] = min(best[name][i], clock() - t0)
    anchor = sum(best[names[0]])
    print(f"\n## splitter cost on the {len(parsed)} files with a grammar ({mb_parsed:.2f} MB), per core")
    print(f"{'variant':34s} {'files/s':>10s} {'MB/s':>8s} {'x bare parse':>13s}")
    for n in names:
        s = sum(best[n])
        print(f"{n:34s} {len(parsed) / s:10.0f} {mb_parsed / s:8.2f} {s / anchor:13.2f}")

    batch = pa.Table.from_pylist(rows)

    def parse_pass() -> None:  # the anchor for the whole stage: a bare parse of every file of the batch
        for text, lang in zip(batch.column("content").to_pylist(), batch.column("language").to_pylist(), strict=True):
            if lang and has_level(lang, "statement"):
                get_parser(lang).parse(text.encode())

    print(f"\n## whole stage, FimStage.process on one Arrow batch ({len(rows)} files, {mb_all:.2f} MB), per core")
    print(f"{'level / mode':34s} {'samples/s':>10s} {'MB/s':>8s} {'x bare parse*':>14s}")
    configs = [(f"file / {m}", FimConfig(level="file", fim_rate=1.0, modes=(m,)))
               for m in ("char", "line", "ast_expression", "ast_statement", "ast_function")]
    configs += [("file / default mix, fim_rate 0.5", FimConfig(level="file")),
                ("repo / default mix, bm25_imports", FimConfig(level="repo")),
                ("repo / default mix, hash_embed", FimConfig(level="repo", retriever="hash_embed"))]
    for label, cfg in configs:
        stage = FimStage(cfg)
        s = a = float("inf")
        for _ in range(args.rounds):  # anchor and stage back to back each round, best of each
            t0 = clock()
            parse_pass()
            a = min(a, clock() - t0)
            t0 = clock()
            out = stage.process(batch, "bench")
            s = min(s, clock() - t0)
        assert out.kept.num_rows + out.rejects.num_rows == len(rows)
        print(f"{label:34s} {len(rows) / s:10.0f} {mb_all / s:8.2f} {s / a:14.2f}")
    if args.big_repo:
        big = [dict(r, repo="one-big-repo") for r in rows if r["repo"] != "sample"][: args.big_repo]
        big_mb = sum(len(r["content"].encode()) for r in big) / 1e6
        print(f"\n## repo level on ONE repository of {len(big)} files ({big_mb:.2f} MB): context selection at scale")
        for retr in ("bm25_imports", "hash_embed"):
            t0 = clock()
            out = FimStage(FimConfig(level="repo", retriever=retr)).process(pa.Table.from_pylist(big), "bench")
            s = clock() - t0
            print(f"{'repo / ' + retr:34s} {len(big) / s:10.0f} {big_mb / s:8.2f}   "
                  f"context files/sample {out.stats['context_files'] / max(1, out.kept.num_rows):.1f}")
    print("\n* stage time / time of a bare parse pass over the same batch, measured back to back in each round "
          "(char/line modes parse nothing).")
    if not args.repos:  # the hygiene view on this corpus; --repos gives it on real repositories instead
        hygiene(rows, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
