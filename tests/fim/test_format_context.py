"""Formats parse back; context ranking, import graph, budgets and the target/same-repo rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.fim.context import BM25Index, RepoFile, get_retriever, identifier_tokens, select_context
from codeflow.fim.format import ParseError, parse_file, parse_repo, render_file, render_repo
from codeflow.fim.imports import ImportGraph
from codeflow.fim.tokens import QWEN, STARCODER

SAFE = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<|>"), max_size=60)
PATH = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<|>\r\n"), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(SAFE, SAFE, SAFE, st.booleans(), st.sampled_from([QWEN, STARCODER]))
def test_file_text_parses_back(pre: str, mid: str, suf: str, fim: bool, tokens) -> None:
    if not fim:
        mid = suf = ""
    text = render_file(pre, mid, suf, fim, tokens)
    p = parse_file(text, tokens)
    assert (p.prefix, p.middle, p.suffix, p.fim) == (pre, mid, suf, fim)


@settings(max_examples=150, deadline=None)
@given(PATH, st.lists(st.tuples(PATH, SAFE), max_size=4), PATH, SAFE, SAFE, SAFE)
def test_repo_text_parses_back(name, context, target, pre, mid, suf) -> None:
    text = render_repo(name, context, target, pre, mid, suf, True)
    assert text.startswith(f"<|repo_name|>{name}\n<|file_sep|>")
    p = parse_repo(text)
    assert (p.repo_name, p.context, p.target_path) == (name, context, target)
    assert (p.prefix, p.middle, p.suffix) == (pre, mid, suf)


def test_exact_layout_of_the_reports() -> None:
    assert render_file("a", "b", "c") == "<|fim_prefix|>a<|fim_suffix|>c<|fim_middle|>b<|endoftext|>"
    assert render_repo("r", [("x.py", "X")], "t.py", "a", "b", "c") == (
        "<|repo_name|>r\n<|file_sep|>x.py\nX\n<|file_sep|>t.py\n<|fim_prefix|>a<|fim_suffix|>c<|fim_middle|>b<|endoftext|>")
    with pytest.raises(ParseError):
        parse_file("<|fim_prefix|>a<|endoftext|>")


def test_bm25_ranks_the_file_sharing_rare_identifiers() -> None:
    docs = [identifier_tokens(t) for t in ("def parse_invoice(total_amount): pass",
                                           "invoice = parse_invoice(total_amount)",
                                           "def unrelated(): return 1")]
    scores = BM25Index(docs).scores(docs[1])
    assert scores[0] > scores[2] and scores[1] > 0


def test_import_graph_resolves_python_js_go_rust_c() -> None:
    files = [("pkg/util.py", "def f(): pass", "python"), ("pkg/main.py", "from pkg.util import f\nfrom . import util",
                                                          "python"),
             ("web/a.js", "import {x} from './b'", "javascript"), ("web/b.js", "export const x = 1", "javascript"),
             ("src/lib.rs", "mod parser;\nuse crate::parser::Tok;", "rust"),
             ("src/parser.rs", "pub struct Tok;", "rust"),
             ("c/ring.c", '#include "ring.h"', "c"), ("c/ring.h", "int x;", "c")]
    g = ImportGraph(files)
    assert g.imports("pkg/main.py") == {"pkg/util.py"}
    assert g.imports("web/a.js") == {"web/b.js"}
    assert g.imports("src/lib.rs") == {"src/parser.rs"}
    assert g.imports("c/ring.c") == {"c/ring.h"}


def test_import_boost_beats_bm25_and_target_is_never_ranked() -> None:
    files = [RepoFile("app/main.py", "from app.db import connect\nconnect()", "python"),
             RepoFile("app/db.py", "def connect(): return open_socket()", "python"),
             RepoFile("app/other.py", "main app connect connect connect main", "python")]
    ranked = get_retriever("bm25_imports")(files)(0)
    assert [i for i, _ in ranked][0] == 1 and 0 not in [i for i, _ in ranked]
    for name in ("bm25", "hash_embed"):
        assert 0 not in [i for i, _ in get_retriever(name)(files)(0)]


def test_select_context_respects_budgets() -> None:
    ranked = [(0, 3.0), (1, 2.0), (2, 1.0), (3, 0.5)]
    assert select_context(ranked, [50, 200, 30, 10], max_chars=100, max_files=10) == [0, 2, 3]
    assert select_context(ranked, [50, 200, 30, 10], max_chars=100, max_files=2) == [0, 2]
    assert select_context(ranked, [50, 200, 30, 10], max_chars=0, max_files=5) == []
