"""Benchmark: does repo-level FIM context hold what the hidden middle needs? Four retrievers side by side.

For real repositories (``--repos list.txt``, the repo-list format of ``codeflow code``: local clones, bare
repositories or URLs; HEAD is read), every code file becomes one repo-level sample (``fim_rate`` 1.0) under
each context mode of ``FimStage``, in the same run:

- ``files`` — the old retriever: whole files ranked by BM25 + import boost, greedy under the budget (anchor);
- ``units`` — the new one: definitions of imported/referenced names, import skeletons, then BM25 units;
- ``units_bm25`` — BM25 over units alone;
- ``random`` — random whole files of the same repository, cut to the same characters as ``units`` per sample.

Per language of the target file:

- **def recall**: names the file imports explicitly (``imported_names``) from a module that resolves to a file of
  the repo, that the middle *uses* and that another file of the repo defines (keyword regex ``units.DEF_NAME``);
  a hit when the context holds a definition of it. An occurrence inside an import statement
  (``imports.import_spans``) is not a use: a middle that *is* the import block only imports the names. A Go
  name is used only as a selector of its package (``binding.Header``; a bare ``Header`` is a field);
- **xfile recall**: every identifier the middle uses (same rule) that the target file does not define and
  another file of the repo does (same regex), imported or not (Go same-package names, Java same-package classes,
  methods called on objects); a hit when the context holds a definition of it;
- **def recall, import visible**: the same, only names whose import statement is outside the middle (a
  retriever that sees prefix and suffix only cannot know the others);
- **ctx tok**: context tokens per sample (characters / 4; no tokenizer is loaded);
- **samples/s**: ``FimStage.process`` CPU time per core (``time.process_time``), repo level, whole stage, best of
  ``--rounds`` runs with the modes interleaved.
- **issue-time anchor** (``--anchor-rev REV``): the same rows through ``FimStage`` of another revision of this
  repository (``da92ebd``: the repo-level FIM as it was when issue 19 set its "within 1.5x of today's samples/s"
  target, just before the unit retriever landed), checked out as a temporary git worktree and timed in a child
  process (warm-up run first, then one timed run per round, interleaved with the modes above). ``files`` of this
  checkout is not that anchor: it shares the BM25 and import-resolver speed-ups made since.

    python bench/fim_context.py --repos list.txt [--max-files 400] [--max-context-chars 32768] [--rounds 3]
                                [--anchor-rev da92ebd]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

IDENT = re.compile(r"[A-Za-z_$][\w$]*")
MODES = ("files", "units", "units_bm25")


def load_repo(entry, max_files: int, max_bytes: int = 200_000) -> list[dict]:
    """CODE_FILE-like rows of HEAD of one repository (files with a known language, UTF-8, no special token)."""
    from codeflow.code.languages import language_for_path
    from codeflow.fim.format import check_text
    from codeflow.repos import TreeFile, head_commit, iter_tree, open_repo

    repo = open_repo(entry)
    commit = head_commit(repo)
    rows = []
    for item in iter_tree(repo, commit.tree):
        if not isinstance(item, TreeFile) or item.kind != "blob":
            continue
        blob = repo[item.oid]
        if blob.size > max_bytes:
            continue
        try:
            text = blob.data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        lang = language_for_path(item.path, text.split("\n", 1)[0])
        if lang in (None, "markdown", "json", "yaml", "toml", "html", "css", "xml") or not text.strip() or \
                check_text(text):
            continue
        rows.append({"id": f"{entry.name}:{item.path}", "repo": entry.name, "path": item.path, "language": lang,
                     "content": text})
    return rows[:max_files]


def metrics(rows: list[dict], records_by_mode: dict[str, list[dict]], seed: int) -> dict:
    """Per (language, mode): [def hits, def total, xfile hits, xfile total, context chars, samples, def hits and
    total where the import statement is outside the middle]."""
    from codeflow.fim.format import parse_repo
    from codeflow.fim.imports import ImportGraph, go_imports, import_spans, imported_names
    from codeflow.fim.units import regex_names

    by_path = {r["path"]: r for r in rows}
    graph = ImportGraph([(r["path"], r["content"], r["language"]) for r in rows])
    defined = {r["path"]: set(regex_names(r["content"])) for r in rows}
    def_count: dict[str, int] = defaultdict(int)
    for names in defined.values():
        for n in names:
            def_count[n] += 1
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0])
    paths = sorted(by_path)

    spans = {r["path"]: import_spans(r["content"], r["language"]) for r in rows}

    def used_in_middle(rec: dict) -> set[str]:
        """Identifiers of the middle outside import statements: a name whose import line *is* the middle is
        imported there, not used (and no retriever that sees only prefix and suffix can know it)."""
        ss = spans[rec["path"]]
        starts = [s for s, _ in ss]
        off = len(rec["prefix"])
        out = set()
        for m in IDENT.finditer(rec["middle"]):
            pos = off + m.start()
            k = bisect.bisect_right(starts, pos) - 1
            if k < 0 or pos >= ss[k][1]:
                out.add(m.group())
        return out

    def go_selects(rec: dict, mod: str, name: str) -> bool:
        """Go names an imported name only through its package (``binding.Header``): a bare ``Header`` in the
        middle (``c.Request.Header``, a field) is not a use of it."""
        aliases = {alias or path.rstrip("/").rsplit("/", 1)[-1]
                   for alias, path in go_imports(by_path[rec["path"]]["content"]) if path == mod}
        return any(re.search(rf"(?<![\w.]){re.escape(a)}\.{re.escape(name)}\b", rec["middle"]) for a in aliases)

    def score(lang: str, mode: str, rec: dict, context_text: str) -> None:
        row = by_path[rec["path"]]
        mid_ids = used_in_middle(rec)
        mine = defined[rec["path"]]
        gt_defs = {n for mod, n in imported_names(row["content"], row["language"])
                   if n in mid_ids and def_count[n] - (n in mine) > 0
                   and graph.resolve(mod, row["path"], row["language"])
                   and (row["language"] != "go" or go_selects(rec, mod, n))}
        ctx_defs = set(regex_names(context_text))
        xfile = {t for t in mid_ids if t not in mine and def_count[t] > 0}
        acc = out[(lang, mode)]
        acc[0] += len(gt_defs & ctx_defs)
        acc[1] += len(gt_defs)
        acc[2] += len(xfile & ctx_defs)
        acc[3] += len(xfile)
        acc[4] += len(context_text)
        acc[5] += 1
        visible = gt_defs & {n for _, n in imported_names(rec["prefix"] + rec["suffix"], row["language"])}
        acc[6] += len(visible & ctx_defs)
        acc[7] += len(visible)

    for mode, records in records_by_mode.items():
        for rec in records:
            ctx = parse_repo(rec["text"]).context
            score(rec["language"], mode, rec, "\n".join(c for _, c in ctx))
            if mode == "units":  # random same-repo whole files, cut to the same number of characters
                budget = sum(len(c) for _, c in ctx)
                rng = random.Random(f"{seed}:{rec['path']}")
                others = [p for p in paths if p != rec["path"]]
                rng.shuffle(others)
                parts, used = [], 0
                for p in others:
                    if used >= budget:
                        break
                    take = by_path[p]["content"][: budget - used]
                    parts.append(take)
                    used += len(take)
                score(rec["language"], "random", rec, "\n".join(parts))
    return out


# Runs in a child with PYTHONPATH at the anchor checkout: one warm-up run (imports, grammar loading), one timed.
_ANCHOR_CHILD = """
import json, sys, time
import pyarrow.parquet as pq
from codeflow.fim.stage import FimConfig, FimStage
batch, unit, seed, budget = pq.read_table(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = FimConfig(level="repo", fim_rate=1.0, seed=seed, max_context_chars=budget)
FimStage(cfg).process(batch, unit)
t0 = time.process_time()
res = FimStage(cfg).process(batch, unit)
print(json.dumps({"secs": time.process_time() - t0, "rows": res.kept.num_rows + res.rejects.num_rows}))
"""


class AnchorCheckout:
    """A temporary detached worktree of ``rev`` of the git repository holding this script; removed on exit
    (only the folder this class created)."""

    def __init__(self, rev: str) -> None:
        self.root = Path(__file__).resolve().parents[1]
        self.tmp = tempfile.mkdtemp(prefix="fim-anchor-")
        self.path = os.path.join(self.tmp, "tree")
        self._written = None  # the batch rows.parquet holds
        done = subprocess.run(["git", "-C", str(self.root), "worktree", "add", "--detach", "-q", self.path, rev],
                              capture_output=True, text=True)
        if done.returncode:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise SystemExit(f"--anchor-rev {rev}: cannot check it out from {self.root} (a git clone with that "
                             f"commit is needed; a shallow clone lacks it): {done.stderr.strip()}")

    def time(self, batch, unit: str, seed: int, budget: int) -> float:
        """CPU seconds of one ``FimStage.process`` of ``batch`` at the anchor revision."""
        import pyarrow.parquet as pq

        data = os.path.join(self.tmp, "rows.parquet")
        if self._written is not batch:  # once per repository, not once per round
            pq.write_table(batch, data)
            self._written = batch
        env = dict(os.environ, PYTHONPATH=self.path)
        out = subprocess.run([sys.executable, "-c", _ANCHOR_CHILD, data, unit, str(seed), str(budget)], env=env,
                             cwd=self.tmp, check=True, capture_output=True, text=True).stdout
        got = json.loads(out.strip().splitlines()[-1])
        if got["rows"] != batch.num_rows:
            raise RuntimeError(f"anchor run accounted for {got['rows']} of {batch.num_rows} rows")
        return float(got["secs"])

    def close(self) -> None:
        subprocess.run(["git", "-C", str(self.root), "worktree", "remove", "--force", self.path], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", required=True, help="repo list: one location [TAB name] per line")
    ap.add_argument("--max-files", type=int, default=400, help="files (= samples) per repository")
    ap.add_argument("--max-context-chars", type=int, default=32_768)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="timing: best of this many runs per mode")
    ap.add_argument("--anchor-rev", default=None,
                    help="also time repo-level FIM at this git revision of the checkout (da92ebd: issue 19's anchor)")
    args = ap.parse_args()
    anchor = AnchorCheckout(args.anchor_rev) if args.anchor_rev else None
    try:
        return _run(args, anchor)
    finally:
        if anchor is not None:
            anchor.close()


def _run(args, anchor: AnchorCheckout | None) -> int:

    import pyarrow as pa

    from codeflow.fim.stage import FimConfig, FimStage
    from codeflow.repos import read_repo_list

    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0])
    speed: list[tuple[str, int, dict[str, float]]] = []
    for entry in read_repo_list(args.repos):
        rows = load_repo(entry, args.max_files)
        if not rows:
            print(f"{entry.name}: no code files")
            continue
        batch = pa.Table.from_pylist(rows)
        recs: dict[str, list[dict]] = {}
        secs: dict[str, float] = {}
        for r in range(args.rounds):  # modes interleaved, best of the rounds each: load noise hits all alike
            for mode in MODES[r % len(MODES):] + MODES[:r % len(MODES)]:
                cfg = FimConfig(level="repo", fim_rate=1.0, seed=args.seed, context=mode,
                                max_context_chars=args.max_context_chars)
                t0 = time.process_time()
                res = FimStage(cfg).process(batch, entry.name)
                secs[mode] = min(secs.get(mode, float("inf")), time.process_time() - t0)
                assert res.kept.num_rows + res.rejects.num_rows == len(rows)
                recs[mode] = res.kept.to_pylist()
            if anchor is not None:
                secs["anchor"] = min(secs.get("anchor", float("inf")),
                                     anchor.time(batch, entry.name, args.seed, args.max_context_chars))
        speed.append((entry.name, len(rows), {m: len(rows) / s for m, s in secs.items()}))
        for key, acc in metrics(rows, recs, args.seed).items():
            totals[key] = [a + b for a, b in zip(totals[key], acc, strict=True)]
        print(f"{entry.name}: {len(rows)} files done", flush=True)

    shown = ("files", "units", "units_bm25", "random")
    print(f"\n## context quality per language (budget {args.max_context_chars} chars; tok = chars/4)")
    print(f"{'language':12s} {'n':>5s} " + " ".join(f"{m + ' def':>16s} {'xfile':>6s} {'tok':>6s}" for m in shown)
          + f" {'xfile new/random':>17s}")
    for lang in sorted({k[0] for k in totals}):
        cells = []
        for m in shown:
            a = totals[(lang, m)]
            d = f"{a[0] / a[1]:.2f} ({int(a[1])})" if a[1] else "-"
            x = f"{a[2] / a[3]:.2f}" if a[3] else "-"
            cells.append(f"{d:>16s} {x:>6s} {a[4] / 4 / max(1, a[5]):6.0f}")
        new, rnd = totals[(lang, "units")], totals[(lang, "random")]
        ratio = (new[2] / new[3]) / (rnd[2] / rnd[3]) if new[3] and rnd[2] else float("nan")
        print(f"{lang:12s} {int(totals[(lang, 'units')][5]):5d} " + " ".join(cells) + f" {ratio:17.2f}")
    print("\n## def recall where the import statement itself is visible (not inside the middle)")
    print(f"{'language':12s} " + " ".join(f"{m:>16s}" for m in shown))
    for lang in sorted({k[0] for k in totals}):
        cells = [f"{a[6] / a[7]:.2f} ({int(a[7])})" if a[7] else "-" for a in (totals[(lang, m)] for m in shown)]
        print(f"{lang:12s} " + " ".join(f"{c:>16s}" for c in cells))
    timed = MODES + (("anchor",) if anchor is not None else ())
    print("\n## samples/s per core (FimStage.process, repo level, fim_rate 1.0); files: the whole-file retriever of "
          "this checkout" + (f"; anchor: repo-level FIM at {args.anchor_rev}" if anchor is not None else ""))
    print(f"{'repo':28s} {'files':>6s} " + " ".join(f"{m:>11s}" for m in timed) + f" {'units/files':>12s}"
          + (f" {'units/anchor':>13s}" if anchor is not None else ""))
    for name, n, sps in speed:
        print(f"{name:28s} {n:6d} " + " ".join(f"{sps[m]:11.0f}" for m in timed) +
              f" {sps['units'] / sps['files']:12.2f}" +
              (f" {sps['units'] / sps['anchor']:13.2f}" if anchor is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
