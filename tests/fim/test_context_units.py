"""Unit-level repo context: import resolution per language, definitions that reach the context from files
larger than the budget, no leak of the middle, layout, determinism, and the stage invariants with it."""

from __future__ import annotations

import pytest

from codeflow.fim.context import RepoFile
from codeflow.fim.format import parse_repo
from codeflow.fim.imports import ImportGraph, imported_names
from codeflow.fim.repo_context import UnitIndex
from codeflow.fim.stage import FimConfig, FimStage
from codeflow.fim.units import ELISION, file_units
from tests.fim.helpers import code_row, sample_rows, table


def _filler(n: int, lang: str = "python") -> str:
    if lang == "python":
        return "".join(f"def filler_{i}(a, b):\n    total = a * {i} + b\n    return total - {i}\n\n\n"
                       for i in range(n))
    return "".join(f"func filler{i}(a int) int {{\n\treturn a * {i}\n}}\n\n" for i in range(n))


def _ctx(files: list[RepoFile], target: str, max_cost: int = 4000, middle: str = "") -> list[tuple[str, str]]:
    idx = UnitIndex(files)
    t = [f.path for f in files].index(target)
    content = files[t].content
    return idx.context(t, content, "", middle, max_cost, 8)


def _text(ctx: list[tuple[str, str]]) -> str:
    return "\n".join(c for _, c in ctx)


CASES = {
    "python package __init__ re-export + src layout": (
        [RepoFile("src/shop/__init__.py", "from shop._core import Cart\n", "python"),
         RepoFile("src/shop/_core.py", _filler(60) + "class Cart:\n    def add(self, item):\n        return item\n",
                  "python"),
         RepoFile("app.py", "from shop import Cart\n\ncart = Cart()\n", "python")],
        "app.py", "class Cart:"),
    "python relative import": (
        [RepoFile("pkg/util.py", _filler(60) + "def slugify(title):\n    return title.lower()\n", "python"),
         RepoFile("pkg/main.py", "from .util import slugify\n\nprint(slugify('A'))\n", "python")],
        "pkg/main.py", "def slugify(title):"),
    "java import": (
        [RepoFile("src/main/java/com/acme/Money.java",
                  "package com.acme;\n\npublic final class Money {\n  public long cents() { return 0; }\n}\n", "java"),
         RepoFile("src/main/java/com/acme/app/Shop.java",
                  "package com.acme.app;\n\nimport com.acme.Money;\n\nclass Shop { Money m; }\n", "java")],
        "src/main/java/com/acme/app/Shop.java", "public final class Money"),
    "kotlin import": (
        [RepoFile("src/acme/Money.kt", "package acme\n\nclass Money(val cents: Long)\n", "kotlin"),
         RepoFile("src/app/Shop.kt", "package app\n\nimport acme.Money\n\nfun total(): Money = Money(1)\n", "kotlin")],
        "src/app/Shop.kt", "class Money"),
    "typescript .js -> .ts": (
        [RepoFile("source/errors.ts", "export class HttpError extends Error {\n  status = 0;\n}\n", "typescript"),
         RepoFile("source/index.ts", "import {HttpError} from './errors.js';\n\nthrow new HttpError();\n",
                  "typescript")],
        "source/index.ts", "export class HttpError"),
    "go module root package": (
        [RepoFile("command.go", "package cobra\n\n" + _filler(40, "go") + "type Command struct {\n\tUse string\n}\n",
                  "go"),
         RepoFile("doc/md.go", 'package doc\n\nimport (\n\t"github.com/spf13/cobra"\n)\n\n'
                  "func Gen(c *cobra.Command) {}\n", "go")],
        "doc/md.go", "type Command struct"),
    "rust use": (
        [RepoFile("src/parser.rs", "pub struct Token {\n    pub kind: u8,\n}\n", "rust"),
         RepoFile("src/lib.rs", "mod parser;\nuse crate::parser::{Token};\n\nfn f(t: Token) {}\n", "rust")],
        "src/lib.rs", "pub struct Token"),
    "c include": (
        [RepoFile("lib/ring.h", "#define RING_MAX 64\nint ring_push(int *r, int v);\n", "c"),
         RepoFile("lib/ring.c", '#include "ring.h"\n\nint f(int *r) { return ring_push(r, RING_MAX); }\n', "c")],
        "lib/ring.c", "int ring_push(int *r, int v);"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_definition_reaches_the_context(case: str) -> None:
    files, target, definition = CASES[case]
    ctx = _ctx(files, target)
    assert definition in _text(ctx)
    assert target not in [p for p, _ in ctx]


def test_import_resolution_and_imported_names() -> None:
    g = ImportGraph([(f.path, f.content, f.language) for f in CASES["go module root package"][0]])
    assert g.resolve("github.com/spf13/cobra", "doc/md.go", "go") == {"command.go"}
    g = ImportGraph([(f.path, f.content, f.language) for f in CASES["typescript .js -> .ts"][0]])
    assert g.resolve("./errors.js", "source/index.ts", "typescript") == {"source/errors.ts"}
    py = CASES["python package __init__ re-export + src layout"][0]
    g = ImportGraph([(f.path, f.content, f.language) for f in py])
    assert g.resolve("shop._core", "app.py", "python") == {"src/shop/_core.py"}
    assert imported_names("from a.b import (C,\n    D as E)  # x\nfrom . import f", "python") == [
        ("a.b", "C"), ("a.b", "D"), (".", "f")]
    assert imported_names("import a.b.C;\nimport static a.b.U.help;", "java") == [
        ("a.b.C", "C"), ("a.b.U", "help"), ("a.b.U", "U")]
    assert imported_names("import D, {A, B as C} from './x.js'\nimport * as ns from './y'", "typescript") == [
        ("./x.js", "D"), ("./x.js", "A"), ("./x.js", "B")]
    assert imported_names("use crate::a::{B, self};\nuse super::d::E;", "rust") == [
        ("crate::a", "B"), ("super::d", "E")]
    assert imported_names('import (\n\tf "example.com/m/fmtx"\n\t"os"\n)\nfunc x() { f.Println(); f.Println(); '
                          'os.Exit(1); xf.Bad() }', "go") == [("example.com/m/fmtx", "Println")]  # no stdlib


def test_definition_in_a_file_larger_than_the_budget_arrives_as_a_unit() -> None:
    big = _filler(500) + "def compute_tax(amount, rate):\n    return amount * rate\n" + _filler(5)
    files = [RepoFile("pkg/money.py", big, "python"),
             RepoFile("pkg/shop.py", "from pkg.money import compute_tax\n\nx = compute_tax(1, 2)\n", "python")]
    assert len(big) > 10 * 3000
    ctx = _ctx(files, "pkg/shop.py", max_cost=3000)
    assert "def compute_tax(amount, rate):\n    return amount * rate" in _text(ctx)
    assert sum(11 + len(p) + len(c) + 2 for p, c in ctx) <= 3000


def test_class_too_large_shows_as_skeleton_and_units_of_one_file_share_one_entry() -> None:
    methods = "".join(f"    def m{i}(self, x):\n        \"\"\"Doc {i}.\"\"\"\n        return x + {i} * 2\n\n"
                      for i in range(80))
    lib = "import os\n\n\nclass Engine:\n" + methods + "\n\ndef start(e):\n    return e\n"
    files = [RepoFile("lib.py", lib, "python"),
             RepoFile("app.py", "from lib import Engine, start\n\nstart(Engine())\n", "python")]
    ctx = _ctx(files, "app.py", max_cost=24_000)
    assert [p for p, _ in ctx] == ["lib.py"]  # several units, one <|file_sep|> entry
    text = ctx[0][1]
    assert "class Engine:" in text and f"def m79(self, x):\n        \"\"\"Doc 79.\"\"\"\n        {ELISION}" in text
    assert f"class Engine:\n    def m0(self, x):\n        \"\"\"Doc 0.\"\"\"\n        {ELISION}\n    def m1" in text
    small = _ctx(files, "app.py", max_cost=2000)  # the skeleton does not fit a quarter: the header line alone
    assert f"class Engine: {ELISION}" in _text(small)
    assert text.index("class Engine:") < text.index("def start(e):")  # file order
    assert f"\n{ELISION}\n" in text


def test_most_relevant_file_is_last() -> None:
    files = [RepoFile("pkg/util.py", "def helper_one(x):\n    return x\n", "python"),
             RepoFile("pkg/other.py", "def unrelated_thing():\n    return 'helper_one main'\n", "python"),
             RepoFile("pkg/main.py", "from pkg.util import helper_one\n\nhelper_one(1)\n", "python")]
    ctx = _ctx(files, "pkg/main.py")
    assert [p for p, _ in ctx][-1] == "pkg/util.py"


def test_middle_and_copies_of_the_target_never_in_context() -> None:
    func = "def apply_discount(price, pct):\n    cut = price * pct / 100\n    return round(price - cut, 2)\n"
    target = "from shop.prices import base\n\n\n" + func + "\n\nprint(apply_discount(base(), 5))\n"
    files = [RepoFile("shop/prices.py", "def base():\n    return 10\n\n\n" + func, "python"),  # copied code
             RepoFile("shop/copy_of_main.py", target, "python"),  # a byte copy of the target
             RepoFile("shop/main.py", target, "python")]
    idx = UnitIndex(files)
    pre, mid, suf = target.partition(func)
    ctx = idx.context(2, pre, suf, mid, 10_000, 8)
    text = _text(ctx)
    assert "def base():" in text  # the imported definition is there
    assert "apply_discount(price, pct)" not in text
    assert "shop/copy_of_main.py" not in [p for p, _ in ctx]


def test_resolution_excludes_each_importer_only_from_its_own_result() -> None:
    """Two files of one folder import the same module, which is one of them: the module resolves for the other
    file whichever asks first (the per-folder memo once stored the first importer's self-exclusion for both)."""
    files = [("pkg/__init__.py", "", "python"), ("pkg/x.py", "import pkg.x\n", "python"),
             ("pkg/y.py", "import pkg.x\n", "python")]
    for order in (files, files[::-1]):
        g = ImportGraph(order)
        assert g.imports("pkg/y.py") == {"pkg/x.py"}
        assert g.imports("pkg/x.py") == set()
        assert g.resolve("pkg.x", "pkg/y.py", "python") == {"pkg/x.py"}


def test_reindented_copy_of_the_middle_is_excluded_and_a_lookalike_kept() -> None:
    """Units are bucketed (first and last words, punctuation counts) before any whitespace normalization: a copy
    of the middle that differs only in whitespace is still never shown; a unit with the same bucket key and other
    code in between is."""
    middle = "def shared(a, b):\n    total = a + b\n    return total\n"
    copy = "def shared(a,   b):\n        total = a + b\n\n        return total\n"
    lookalike = "def shared(a, b):\n    total = a - b\n    return total\n"
    prefix = "from pkg.a import shared\nfrom pkg.b import shared\n\n\n"
    suffix = "\n\nx = shared(1, 2)\n"
    files = [RepoFile("pkg/a.py", "import os\n\n\n" + copy, "python"),
             RepoFile("pkg/b.py", "import sys\n\n\n" + lookalike, "python"),
             RepoFile("main.py", prefix + middle + suffix, "python")]
    idx = UnitIndex(files)
    text = _text(idx.context(2, prefix, suffix, middle, 4000, 8))
    assert "a - b" in text  # the lookalike: same bucket, another group
    assert "a + b" not in text  # the re-indented copy of the middle


def test_stage_never_leaks_the_middle_and_round_trips() -> None:
    rows = sample_rows()
    dup = next(r for r in rows if r["path"].endswith(".py"))
    rows.append(code_row("sample", "copies/" + dup["path"].rsplit("/", 1)[-1], dup["content"]))
    cfg = FimConfig(level="repo", fim_rate=1.0, max_context_chars=6000, modes=("ast", "line"))
    res = FimStage(cfg).process(table(rows), "u")
    assert res.kept.num_rows + res.rejects.num_rows == len(rows)
    content = {r["path"]: r["content"] for r in rows}
    for rec in res.kept.to_pylist():
        assert rec["prefix"] + rec["middle"] + rec["suffix"] == content[rec["path"]]
        p = parse_repo(rec["text"])
        ctx_text = "\n".join(c for _, c in p.context)
        if len(rec["middle"].strip()) >= 32:
            assert rec["middle"].strip() not in ctx_text
        assert rec["path"] not in rec["context_paths"]
    again = FimStage(cfg).process(table(rows), "u")
    assert again.kept.equals(res.kept)  # deterministic


def test_units_cover_definitions_and_keep_file_order() -> None:
    text = "import os\n\n\ndef a():\n    return 1\n\n\nclass B:\n    x = 1\n"
    units, tree = file_units(0, text, "python")
    assert tree is not None
    assert [u.names for u in units if u.kind == "def"] == [("a",), ("B",)]
    assert [u.start for u in units] == sorted(u.start for u in units)
    windows, none = file_units(0, "line one\n" * 100, None)
    assert none is None and len(windows) == 3 and windows[1].start == windows[0].end
    assert windows[-1].end == len("line one\n" * 100)


def test_context_budget_in_tokens_of_the_trainer_tokenizer(tmp_path) -> None:
    """With a tokenizer the budget counts its tokens: every context fits ``max_context_tokens`` of them and holds
    more characters than a character budget of the same number would allow."""
    from codeflow.model.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer

    rows = sample_rows()
    tok = train_tokenizer([r["content"] for r in rows], vocab_size=600)
    save_tokenizer(tok, str(tmp_path / "tok"), ["sample"], len(rows), 0)
    tok = load_tokenizer(str(tmp_path / "tok"))
    budget = 1500
    cfg = FimConfig(level="repo", fim_rate=1.0, context_tokenizer=str(tmp_path / "tok"), max_context_tokens=budget)
    res = FimStage(cfg).process(table(rows), "u")
    assert res.kept.num_rows == len(rows)
    widest = 0
    for rec in res.kept.to_pylist():
        ctx = parse_repo(rec["text"]).context
        rendered = "".join(f"{cfg.tokens.file_sep}{p}\n{c}\n" for p, c in ctx)
        assert len(tok.encode(rendered, add_special_tokens=False).ids) <= budget
        widest = max(widest, len(rendered))
    assert widest > budget  # characters beyond the token budget: it is not counting characters
    with pytest.raises(ValueError, match="tokenizer"):
        FimConfig(level="repo", context="files", context_tokenizer=str(tmp_path / "tok"))


OUTLINE = {
    "java": ("import a.B;\n\n/** Doc. */\n@Deprecated\npublic final class Money {\n"
             + "".join(f"  /** Adds {i}. */\n  public long add{i}(long x) {{\n    return x + {i} * 1000L;\n  }}\n\n"
                       for i in range(60))
             + "  private final long cents = 0;\n}\n",
             ["Money", "add0", "add59", "cents"], "public final class Money {\n  public long add0(long x) { ⋮"),
    "go": ("package shop\n\nimport \"fmt\"\n\n// Cart holds items.\ntype Cart struct {\n"
           + "".join(f"\t// Item{i} is item {i}.\n\tItem{i} string\n" for i in range(120))
           + "}\n\nfunc (c *Cart) Total() int {\n\treturn 0\n}\n",
           ["Cart", "Item0", "Item119", "Total"], "type Cart struct {\n\tItem0 string\n\tItem1 string"),
    "python": ("import os\n\n\n@decorate\nclass Engine:\n    limit = 3\n\n"
               + "".join(f"    def step_{i}(self, job):\n        \"\"\"Step {i}.\"\"\"\n"
                         f"        return job.run({i}) * 2\n\n" for i in range(60))
               + "\ndef start(engine):\n    return engine\n",
               ["Engine", "limit", "step_0", "step_59", "start"], "class Engine:\n    limit = 3\n    def step_0"),
    "typescript": ("import {x} from './x.js';\n\nexport class Client {\n"
                   + "".join(f"\tasync get{i}(url: string): Promise<number> {{\n\t\treturn fetchIt(url, {i} * 100);\n"
                             "\t}\n\n" for i in range(60))
                   + "}\n\nexport const makeClient = (): Client => new Client();\n",
                   ["Client", "get0", "get59", "makeClient"], "export class Client {\n\tasync get0(url: string)"),
}


@pytest.mark.parametrize("lang", sorted(OUTLINE))
def test_outline_units_name_definitions_and_members_without_a_parse(lang: str) -> None:
    from codeflow.fim.units import outline_units

    text, names, skeleton_start = OUTLINE[lang]
    units = outline_units(0, text, lang)
    found = {n for u in units for n in u.names}
    assert set(names) <= found
    assert [u.start for u in units] == sorted(u.start for u in units)
    assert all(u.end <= len(text) and text[u.start:u.end].strip() for u in units)
    skel = [u for u in units if u.skeleton is not None]
    assert len(skel) == 1 and skel[0].skeleton.startswith(skeleton_start), skel[0].skeleton[:200]
    assert len(skel[0].skeleton) < 0.8 * len(text)  # bodies elided (Go struct fields are whole lines)
    assert (ELISION in skel[0].skeleton) == (lang != "go")
    by_name = {n: u for u in units for n in u.names}
    member = by_name[names[1]]  # one member: its own text, comments and decorators attached, within the class
    assert member.skeleton is None and member.start > skel[0].start


def test_decorators_and_doc_comments_belong_to_their_definition() -> None:
    from codeflow.fim.units import outline_units

    text = "import x\n\n\n# helper doc\n@cache\ndef helper(a):\n    return a\n\n\nVALUE = 1\n"
    units = outline_units(0, text, "python")
    helper = next(u for u in units if "helper" in u.names)
    assert text[helper.start:helper.end] == "# helper doc\n@cache\ndef helper(a):\n    return a"
    idx = UnitIndex([RepoFile("m.py", text, "python")])
    assert idx.signature(units.index(helper)) == f"def helper(a): {ELISION}"  # past the comment and decorator


def test_go_resolution_module_path_folders_and_stdlib() -> None:
    files = [("go.mod", "module example.com/shop\n", None), ("money/money.go", "package money\n", "go"),
             ("money/money_test.go", "package money\n", "go"), ("errors.go", "package shop\n", "go"),
             ("cmd/main.go", 'package main\n\nimport (\n\t"errors"\n\tm "example.com/shop/money"\n)\n', "go")]
    g = ImportGraph(files)
    assert g.resolve("example.com/shop/money", "cmd/main.go", "go") == {"money/money.go"}  # not the _test file
    assert g.resolve("errors", "cmd/main.go", "go") == set()  # the standard library, not errors.go
    assert g.imports("cmd/main.go") == {"money/money.go"}
    no_mod = ImportGraph(files[1:])  # no go.mod in view: the folder suffix of the import path
    assert no_mod.resolve("github.com/other/shop/money", "cmd/main.go", "go") == {"money/money.go"}


def test_python_submodules_js_index_and_rust_mod_rs_resolve() -> None:
    g = ImportGraph([("pkg/__init__.py", "", "python"), ("pkg/sub.py", "", "python"),
                     ("app.py", "from pkg import sub\nfrom pkg import Name\n", "python"),
                     ("web/util/index.ts", "", "typescript"),
                     ("web/a.ts", "import {u} from './util';\n", "typescript"),
                     ("src/net/mod.rs", "", "rust"), ("src/lib.rs", "mod net;\n", "rust")])
    assert g.imports("app.py") == {"pkg/sub.py", "pkg/__init__.py"}  # a submodule, and a name of the package
    assert g.imports("web/a.ts") == {"web/util/index.ts"}
    assert g.imports("src/lib.rs") == {"src/net/mod.rs"}


def test_fast_definition_pattern_matches_exactly_what_def_name_matches() -> None:
    """``units._DEF_NL`` (words grouped by first character, possessive) is an optimization of ``DEF_NAME``: on
    random lines built from the same words, prefixes of them, spaces, parentheses and identifiers, both find the
    same definitions at the same places."""
    import random

    from codeflow.fim import units

    words = ["export", "default", "def", "defa", "pub", "pub(crate)", "public", "fun", "func", "function", "function*",
             "fn", "type", "typedef", "class", "const", "data", "open", "object", "macro_rules!", "#define", "let",
             "val", "var", "async", "static", "x", "Foo", "_y", "$z", "(a)", "*", "=", ":", "\t", "  ", "#", "pu"]
    rng = random.Random(7)
    for _ in range(3000):
        lines = ["".join(rng.choice(words) + rng.choice(["", " ", "  ", "\t"]) for _ in range(rng.randint(0, 6)))
                 for _ in range(rng.randint(1, 4))]
        text = "\n" + "\n".join(lines)
        slow = [(m.start() - 1, m.group(1)) for m in units.DEF_NAME.finditer(text)]
        fast = [(m.start(), m.group(1)) for m in units._DEF_NL.finditer(text)]
        assert fast == slow, text
    assert units.regex_names("pub(crate) fn go() {}\nexport default function* gen() {}\nclass A:\n") == (
        "go", "gen", "A")
