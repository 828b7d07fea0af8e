"""The language registry against the real grammars: names exist, samples parse, lookups resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeflow.code.languages import FIM_LEVELS, LANGUAGES, get_language, get_parser, language_for_path
from codeflow.demo import sample_path

SAMPLE_REPO = Path(sample_path("code", "repo"))


def sample_files() -> dict[str, list[Path]]:
    by_lang: dict[str, list[Path]] = {}
    for p in sorted(SAMPLE_REPO.rglob("*")):
        if p.is_file():
            lang = language_for_path(p.relative_to(SAMPLE_REPO).as_posix(), p.read_bytes().split(b"\n", 1)[0])
            if lang:
                by_lang.setdefault(lang, []).append(p)
    return by_lang


def test_core_languages_present() -> None:
    for name in ("python", "java", "javascript", "typescript", "tsx", "go", "rust", "c", "cpp", "csharp"):
        assert name in LANGUAGES


@pytest.mark.parametrize("name", sorted(LANGUAGES))
def test_fim_node_types_exist_in_grammar(name: str) -> None:
    spec = LANGUAGES[name]
    lang = get_language(name)
    assert set(spec.fim_node_types) == set(FIM_LEVELS)
    assert spec.fim_node_types["function"], "function level drives the function-count metric"
    unknown = [t for level in FIM_LEVELS for t in spec.fim_node_types[level] if not lang.id_for_node_kind(t, True)]
    assert not unknown, f"{name}: node types not in the grammar: {unknown}"


def test_every_language_has_a_valid_sample_that_parses_clean() -> None:
    by_lang = sample_files()
    assert set(by_lang) == set(LANGUAGES)
    for lang, paths in by_lang.items():
        for p in paths:
            tree = get_parser(lang).parse(p.read_bytes())
            assert not tree.root_node.has_error, f"{lang}: {p}"


@pytest.mark.parametrize("path,first_line,expected", [
    ("src/a.py", None, "python"), ("A.JAVA", None, "java"), ("x/y.tsx", None, "tsx"), ("lib.rs", None, "rust"),
    ("inc/ring.h", None, "c"), ("m.hpp", None, "cpp"), ("p.cs", None, "csharp"), ("Makefile", None, "make"),
    ("sub/CMakeLists.txt", None, "cmake"), ("Dockerfile", None, "dockerfile"), ("analysis.R", None, "r"),
    ("bin/tool", "#!/usr/bin/env python3.11", "python"), ("bin/run", "#!/bin/sh", "bash"),
    ("bin/x", "#!/usr/bin/env -S node --harmony", "javascript"), ("bin/y", "#! /usr/bin/perl -w", "perl"),
    ("script.py", "#!/bin/bash", "python"),  # a known extension wins over the shebang
    ("README.md", None, None), ("notes", "just text", None), (".py", None, None), ("bin/z", "#!/usr/bin/env", None),
])
def test_language_for_path(path: str, first_line: str | None, expected: str | None) -> None:
    assert language_for_path(path, first_line) == expected


def test_parsers_are_cached_per_process() -> None:
    assert get_parser("python") is get_parser("python")
    assert get_language("go") is get_language("go")
