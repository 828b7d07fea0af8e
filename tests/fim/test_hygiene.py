"""FIM split hygiene on small real-shaped files: capped char middles, AST middles at most half the file with their
decorators, imports down-weighted, config/markup files char/line only, stubs rejected, per-kind report table.

Each rule is also checked switched off (the old behaviour), so a test fails if the rule stops acting."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.fim.ast_split import AstBounds, ast_span
from codeflow.fim.report import collect, kind_distribution
from codeflow.fim.run import run_fim
from codeflow.fim.sample import is_stub, is_text_only
from codeflow.fim.splitters import char_cap, char_span
from codeflow.fim.stage import FimConfig, FimStage
from codeflow.lake import StageOutput
from tests.fim.helpers import code_row, sample_rows, stdlib_rows, table, write_shard

# An attrs-shaped module: imports, one class that is most of the file, decorated methods.
BIG_CLASS = '''"""Validators."""

from __future__ import annotations

import operator
import re

from ._make import attrib, attrs, fields


@attrs(repr=False, slots=True, unsafe_hash=True)
class _InstanceOfValidator:
    type = attrib()

    def __call__(self, inst, attr, value):
        """
        We use a callable class to be able to change the ``__repr__``.
        """
        if not isinstance(value, self.type):
            msg = f"'{attr.name}' must be {self.type!r} (got {value!r} that is a {value.__class__!r})."
            raise TypeError(msg, attr, self.type, value)

    @property
    def name(self):
        return f"<instance_of validator for type {self.type!r}>"

    @staticmethod
    @operator.itemgetter
    def pick(items):
        return items[0]

    def __repr__(self):
        return f"<instance_of validator for type {self.type!r}>"


def instance_of(type):
    return _InstanceOfValidator(type)
'''

TS_DECORATED = """import {Component, Input, HostListener} from '@angular/core';

@Component({selector: 'app-counter', template: '<b>{{count}}</b>'})
export class CounterComponent {
  @Input() step = 1;
  count = 0;

  @HostListener('click')
  increment(): void {
    this.count += this.step;
  }

  reset(): void {
    this.count = 0;
  }
}

export function twice(n: number): number {
  return n * 2;
}
"""

RUST_ATTRS = """use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

#[inline]
#[must_use]
pub fn manhattan(a: &Point, b: &Point) -> i64 {
    (a.x - b.x).abs() + (a.y - b.y).abs()
}

fn main() {
    let p = Point { x: 1, y: 2 };
    println!("{}", manhattan(&p, &Point { x: 0, y: 0 }));
}
"""

JAVA_ANNOTATED = """package com.example;

import java.util.List;

public final class Names {
  @Override
  public String toString() {
    return "Names";
  }

  @Deprecated
  public static List<String> all() {
    return List.of("a", "b");
  }

  static int count(List<String> names) {
    return names.size();
  }
}
"""

GO_MOSTLY_IMPORTS = """package gin

import (
\t"bytes"
\t"fmt"
\t"io"
\t"net/http"
\t"os"
\t"strings"
)

import "sync"

var mu sync.Mutex

func render(w io.Writer, name string) error {
\tif name == "" {
\t\treturn fmt.Errorf("empty name")
\t}
\tbuf := bytes.NewBufferString(strings.ToUpper(name))
\t_, err := w.Write(buf.Bytes())
\treturn err
}

func serve() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { render(w, r.URL.Path) })
\tos.Exit(0)
}
"""

REEXPORT = "from attr.converters import *  # noqa: F403\nfrom attr.converters import optional\n"

CONFIGS = {
    ".github/workflows/ci.yml": "name: CI\non:\n  push:\n    branches: [main]\njobs:\n  test:\n"
                                "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                                "      - run: make test\n",
    "Cargo.toml": '[package]\nname = "grep"\nversion = "0.3.2"\n\n[dependencies]\nregex = "1.10"\n\n'
                  '[features]\nsimd = []\n',
    "package.json": '{\n  "name": "ky",\n  "version": "1.7.0",\n  "scripts": {\n    "test": "xo && ava"\n  },\n'
                    '  "devDependencies": {\n    "ava": "^6.1.3"\n  }\n}\n',
    "README.md": "# ky\n\n> Tiny HTTP client\n\n## Install\n\n```sh\nnpm install ky\n```\n\n## Usage\n\n"
                 "```js\nimport ky from 'ky';\nconst json = await ky.post('https://example.com').json();\n```\n",
    "pom.xml": "<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.google.code.gson</groupId>\n"
               "  <artifactId>gson</artifactId>\n</project>\n",
    "setup.cfg": "[metadata]\nname = attrs\n\n[options]\npackages = find:\n",
    "docs/index.html": "<!doctype html>\n<html><body><h1>gin</h1><p>docs</p></body></html>\n",
}


def _rows(files: dict[str, str], repo: str = "r") -> list[dict]:
    return [code_row(repo, path, text) for path, text in files.items()]


def _samples(rows: list[dict], seeds: int, **cfg) -> list[dict]:
    out = []
    for seed in range(seeds):
        res = FimStage(FimConfig(fim_rate=1.0, seed=seed, **cfg)).process(table(rows), "u")
        assert res.kept.num_rows + res.rejects.num_rows == len(rows)
        recs = res.kept.to_pylist()
        by_id = {r["id"]: r["content"] for r in rows}
        for r in recs:
            assert r["prefix"] + r["middle"] + r["suffix"] == by_id[r["file_id"]]
        out += recs
    return out


# ---- char cap -----------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400), st.integers(0, 2**32), st.integers(1, 50),
       st.floats(0.01, 1.0))
def test_capped_char_span_reassembles_and_holds_the_cap(text: str, seed: int, max_chars: int, frac: float) -> None:
    span = char_span(text, random.Random(seed), max_chars, frac)
    pre, mid, suf = span.cut(text)
    assert (pre + mid + suf).encode() == text.encode()
    assert len(mid) <= char_cap(len(text), max_chars, frac) <= max(1, int(frac * len(text)))
    if text:
        assert len(mid) >= 1


def test_char_middles_hold_the_default_cap_on_real_files() -> None:
    rows = stdlib_rows() + sample_rows()  # difflib.py is 83k characters: uncapped, middles reach tens of thousands
    capped = _samples(rows, 8, modes=("char",))
    n_file = {r["id"]: len(r["content"]) for r in rows}
    assert all(len(r["middle"]) <= min(2000, max(1, n_file[r["file_id"]] // 4)) for r in capped)
    assert max(len(r["middle"]) for r in capped) > 1000  # the cap bounds, it does not shrink everything
    uncapped = _samples(rows, 8, modes=("char",), max_char_middle=0)
    assert max(len(r["middle"]) for r in uncapped) > 2000


# ---- function level: at most half the file, decorators included ------------------------------------------

def test_function_middle_never_covers_most_of_the_file() -> None:
    rows = _rows({"src/attr/validators.py": BIG_CLASS})
    recs = _samples(rows, 60, modes=("ast_function",))
    funcs = [r for r in recs if r["split_kind"] == "ast_function"]
    assert len(funcs) > 40
    assert all(len(r["middle"]) <= len(BIG_CLASS) / 2 for r in funcs)
    assert not any(r["middle"].lstrip().startswith(("@attrs", "class _Instance")) for r in funcs)
    old = _samples(rows, 60, modes=("ast_function",), max_middle_file_fraction=1.0)
    assert any(len(r["middle"]) > len(BIG_CLASS) / 2 for r in old if r["split_kind"] == "ast_function")


def test_one_function_file_falls_back_instead_of_taking_the_whole_function() -> None:
    text = "def only(x):\n    y = x + 1\n    return y * 2\n"
    recs = _samples(_rows({"m.py": text}), 10, modes=("ast_function",))
    assert all(r["requested_kind"] == "ast_function" and r["split_kind"] != "ast_function" for r in recs)
    assert all(len(r["middle"]) <= len(text) / 2 for r in recs)


DECORATOR_LINE = re.compile(r"^\s*(?:@[\w.]+(?:\(.*\))?|#\[.*\])\s*$")


def test_function_middle_includes_its_decorators() -> None:
    files = {"validators.py": BIG_CLASS, "counter.component.ts": TS_DECORATED, "point.rs": RUST_ATTRS,
             "Names.java": JAVA_ANNOTATED}
    expect = {  # a middle holding the definition starts with its first decorator line
        "def name(self)": "@property", "def pick(items)": "@staticmethod", "increment(): void": "@HostListener",
        "pub struct Point": "#[derive", "pub fn manhattan": "#[inline]", "public String toString": "@Override",
        "all() {": "@Deprecated", "export class CounterComponent": "@Component",
    }
    seen = set()
    bounds = AstBounds(max_bytes=1 << 16, window_bytes=0, max_file_fraction=0.95)
    for path, text in files.items():
        lang = code_row("r", path, text)["language"]
        for seed in range(80):
            span, _ = ast_span(text, text.encode(), lang, "function", random.Random(seed), bounds)
            pre, mid, _ = span.cut(text)
            last = pre.rstrip().rsplit("\n", 1)[-1]
            assert not DECORATOR_LINE.match(last), (path, mid[:60])
            head = mid.lstrip().split("\n", 3)
            for key, deco in expect.items():
                assert key not in head[0] or head[0].startswith(deco), (path, mid[:60])  # never the bare def
                if key in "\n".join(head[:3]) and head[0].startswith(deco):
                    seen.add(key)
    assert {"def name(self)", "def pick(items)", "increment(): void", "pub struct Point", "pub fn manhattan",
            "public String toString", "export class CounterComponent"} <= seen
    old = AstBounds(max_bytes=1 << 16, window_bytes=0, max_file_fraction=0.95, include_decorators=False)
    lefts = 0
    for seed in range(80):
        span, _ = ast_span(BIG_CLASS, BIG_CLASS.encode(), "python", "function", random.Random(seed), old)
        lefts += bool(DECORATOR_LINE.match(BIG_CLASS[: span.start].rstrip().rsplit("\n", 1)[-1]))
    assert lefts > 0  # switched off, decorators stay in the prefix


# ---- statement level: imports down-weighted -------------------------------------------------------------

IMPORT_MIDDLE = re.compile(r"\s*(?:import\b|from\s+\S+\s+import\b|use\s)")


def test_imports_are_rare_statement_middles() -> None:
    rows = _rows({"render.go": GO_MOSTLY_IMPORTS, "validators.py": BIG_CLASS, "point.rs": RUST_ATTRS,
                  "Names.java": JAVA_ANNOTATED, "attr/converters.py": REEXPORT})
    recs = [r for r in _samples(rows, 80, modes=("ast_statement",)) if r["split_kind"] == "ast_statement"]
    imports = sum(bool(IMPORT_MIDDLE.match(r["middle"])) for r in recs)
    assert len(recs) > 200 and imports <= 0.05 * len(recs), (imports, len(recs))
    # a file of nothing but imports gets no import middle: it falls back to another kind
    reexport = [r for r in recs if r["path"] == "attr/converters.py"]
    assert not reexport
    old = [r for r in _samples(rows, 80, modes=("ast_statement",), import_weight=0.10, imports_alone=True)
           if r["split_kind"] == "ast_statement"]
    assert sum(bool(IMPORT_MIDDLE.match(r["middle"])) for r in old) > 0.15 * len(old)


# ---- config and markup: char/line only ------------------------------------------------------------------

def test_config_and_markup_files_get_char_and_line_splits_only() -> None:
    rows = _rows(CONFIGS)
    assert all(is_text_only(r["language"], r["path"]) for r in rows)
    assert not is_text_only("python", "setup.py") and not is_text_only("go", "x.go")
    assert not is_text_only(None, "Makefile") and is_text_only(None, "gradle.properties")
    for modes in (("char", "line", "ast"), ("ast",)):
        res = FimStage(FimConfig(fim_rate=1.0, modes=modes)).process(table(rows), "u")
        assert set(res.kept.column("split_kind").to_pylist()) <= {"char", "line"}
        assert set(res.kept.column("requested_kind").to_pylist()) <= {"char", "line"}
        assert res.stats["text_only_splits"] == len(rows)
    recs = _samples(rows, 20, modes=("ast",), text_only_config=False)  # the old behaviour: mappings as "functions"
    assert any(r["split_kind"].startswith("ast_") and r["path"].endswith((".yml", ".toml", ".json")) for r in recs)


# ---- stubs ----------------------------------------------------------------------------------------------

def test_stubs_are_rejected_with_a_reason() -> None:
    stub = "from typing import overload\n\nclass Attribute:\n    name: str\n    def evolve(self) -> Attribute: ...\n"
    dts = "export declare function ky(url: string): Promise<Response>;\nexport default ky;\n"
    rows = _rows({"src/attr/__init__.pyi": stub, "distribution/index.d.ts": dts, "src/attr/filters.py": REEXPORT})
    assert is_stub("a/b.pyi") and is_stub("x.d.ts") and not is_stub("x.ts") and not is_stub(None)
    res = FimStage(FimConfig()).process(table(rows), "u")
    assert res.rejects.column("reason").to_pylist() == ["stub_file", "stub_file"]
    assert res.kept.column("path").to_pylist() == ["src/attr/filters.py"]
    assert res.kept.num_rows + res.rejects.num_rows == len(rows)
    kept = FimStage(FimConfig(skip_stubs=False)).process(table(rows), "u")
    assert kept.kept.num_rows == 3 and kept.rejects.num_rows == 0


def test_repo_level_stub_is_context_not_a_sample() -> None:
    stub = "class Engine:\n    def run(self, job: str) -> int: ...\n\ndef start(engine: Engine) -> int: ...\n"
    app = "from shop.api import start\n\n\ndef main(engine):\n    return start(engine) + 1\n"
    rows = _rows({"shop/api.pyi": stub, "shop/app.py": app}, repo="acme/shop")
    for context in ("files", "units"):
        res = FimStage(FimConfig(level="repo", fim_rate=1.0, context=context)).process(table(rows), "u")
        assert res.rejects.column("reason").to_pylist() == ["stub_file"]
        (rec,) = res.kept.to_pylist()
        assert rec["path"] == "shop/app.py" and rec["prefix"] + rec["middle"] + rec["suffix"] == app
        if context == "files":
            assert rec["context_paths"] == ["shop/api.pyi"]


# ---- report and CLI -------------------------------------------------------------------------------------

def test_report_shows_middle_length_distribution_per_kind(tmp_path: Path) -> None:
    rows = sample_rows() + stdlib_rows() + _rows({"validators.py": BIG_CLASS})
    shard = write_shard(tmp_path / "in" / "a.parquet", rows)
    run_fim([shard], str(tmp_path / "out"), FimConfig(fim_rate=1.0), report=True)
    data = collect(StageOutput(str(tmp_path / "out")))
    table_rows = {r[0]: r for r in kind_distribution(data)}
    assert set(table_rows) == {"char", "line", "ast_expression", "ast_statement", "ast_function"}
    kept = StageOutput(str(tmp_path / "out")).read_kept().to_pylist()
    for kind, row in table_rows.items():
        lens = [len(r["middle"]) for r in kept if r["split_kind"] == kind]
        assert row[1] == len(lens) and row[6] == max(lens)  # n and max middle characters
    assert table_rows["ast_function"][9] <= 0.5 and table_rows["char"][9] <= 0.25  # max share of the file
    html = (tmp_path / "out" / "_report.html").read_text()
    assert "Middle length by split kind" in html and "÷ file p90" in html


def test_cli_hygiene_flags(tmp_path: Path, cli) -> None:
    rows = stdlib_rows() + _rows({"a/__init__.pyi": "x: int\n"})
    shard = write_shard(tmp_path / "in" / "a.parquet", rows)
    out = tmp_path / "o1"
    code, output = cli("fim", "--input", shard, "--out", str(out), "--fim-rate", "1", "--modes", "char",
                       "--max-char-middle", "50", "--no-report")
    assert code == 0, output
    kept = StageOutput(str(out)).read_kept().to_pylist()
    assert len(kept) == len(rows) - 1 and all(len(r["middle"]) <= 50 for r in kept)
    out = tmp_path / "o2"
    code, output = cli("fim", "--input", shard, "--out", str(out), "--fim-rate", "1", "--keep-stubs",
                       "--max-char-middle", "0", "--no-report")
    assert code == 0, output
    assert StageOutput(str(out)).read_kept().num_rows == len(rows)
    code, output = cli("fim", "--input", shard, "--out", str(tmp_path / "o3"), "--max-middle-file-fraction", "0")
    assert code == 2
