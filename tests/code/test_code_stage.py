"""The code stage on real git repositories and real tree-sitter grammars.

Valid code in every registry language is kept; truncated copies are rejected as syntax_error at a position
inside the construct the cut broke; every bad input of the issue becomes one reject with its reason while the
good files of the same and other repositories are kept; accounting is exact.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pyarrow as pa
import pytest

from codeflow.code.languages import LANGUAGES, get_parser, language_for_path
from codeflow.code.quality import CodeConfig
from codeflow.code.stage import CodeStage, RepoSource
from codeflow.code.validate import validate_file
from codeflow.records import CODE_FILE_SCHEMA
from codeflow.repos import RepoEntry
from codeflow.stage import StageResult

from .gitrepo import make_repo
from .helpers import column_map, sample_files


def run_units(units: list[str], config: CodeConfig | None = None) -> StageResult:
    """Source + stage for each unit, exactly as ``run_unit`` does, without the lake."""
    cfg = config or CodeConfig()
    stage, source = CodeStage(cfg), RepoSource(max_bytes=cfg.max_bytes, files_per_batch=7)
    parts = [item if isinstance(item, StageResult) else stage.process(item, unit)
             for unit in units for item in source.read(unit)]
    return StageResult.merge(parts, CODE_FILE_SCHEMA)


def reasons_by_path(result: StageResult) -> dict[str, str]:
    pairs = column_map(result.rejects, "source", "reason")
    return {s.split(":", 1)[-1] if "@" in s else s: r for s, r in pairs.items()}


def test_valid_code_in_every_registry_language_is_kept(tmp_path) -> None:
    files = sample_files()
    make_repo(str(tmp_path / "sample"), files)
    result = run_units([RepoEntry(str(tmp_path / "sample"), "sample").unit])
    kept = result.kept.to_pylist()
    assert {r["language"] for r in kept} == set(LANGUAGES)
    assert reasons_by_path(result) == {"README.md": "unknown_language"}
    assert len(kept) + result.rejects.num_rows == len(files)
    for row in kept:
        assert row["content"].encode() == files[row["path"]]
        assert row["size"] == len(files[row["path"]]) and row["repo"] == "sample" and len(row["commit"]) == 40
        assert row["lines"] == len(row["content"].splitlines())
        assert row["node_count"] > 0 and row["max_depth"] > 0 and 0 < row["alnum_ratio"] < 1
        assert 0 <= row["comment_ratio"] <= 1
    by_path = {r["path"]: r for r in kept}
    assert by_path["bin/wordcount"]["language"] == "python"  # shebang, no extension
    assert by_path["src/python/stats.py"]["function_count"] == 5  # class, __init__, push, stdev, summarize
    assert by_path["src/web/debounce.js"]["comment_ratio"] > 0
    assert result.kept.schema.equals(CODE_FILE_SCHEMA)


def _programming_samples() -> list[tuple[str, str, bytes]]:
    out = []
    for path, data in sample_files().items():
        lang = language_for_path(path, data.split(b"\n", 1)[0])
        # tree-sitter-html accepts unclosed tags by design (HTML is error tolerant), so a cut stays valid.
        if lang and lang != "html":
            out.append((path, lang, data))
    return out


@pytest.mark.parametrize("path,lang,data", _programming_samples(), ids=lambda v: v if isinstance(v, str) else "")
def test_truncated_copy_is_a_syntax_error_inside_the_broken_construct(path: str, lang: str, data: bytes) -> None:
    cut = max(data.rfind(b"("), data.rfind(b"{"), data.rfind(b"["))  # cut right after the last opener
    truncated = data[:cut + 1]
    v = validate_file(path, truncated, len(truncated))
    assert v.reason == "syntax_error", (v.reason, v.detail)
    line, col = map(int, re.match(r"(\d+):(\d+) ", v.detail).groups())
    lines = truncated.decode().split("\n")
    offset = sum(len(x.encode()) + 1 for x in lines[:line - 1]) + len(lines[line - 1][:col - 1].encode())
    # In the *intact* file, the top-level constructs that end before the cut are complete code: the error must
    # lie after them (inside the construct the cut broke) and never past the end of the truncated text.
    root = get_parser(v.language).parse(data).root_node
    complete_end = max((c.end_byte for c in root.children if c.is_named and c.end_byte <= cut), default=0)
    assert complete_end <= offset <= len(truncated), (v.detail, complete_end)


@pytest.mark.parametrize("path,src,expected", [
    ("a.py", b"def f(:\n    pass\n", "1:7 missing )"),
    ("A.java", b"class A {\n  void f() { int x = 1 }\n}\n", "2:23 missing ;"),
    ("a.go", b"package a\n\nfunc f() int {\n\treturn 1 +\n}\n", "4:11 unexpected +"),
    ("x.rs", b"fn main() { let x = ; }\n", "1:19 unexpected ="),
    ("e.py", "x = 'é'\n$$$ bad\ny = 2\n".encode(), "2:1 unexpected $$$"),
    ("u.js", "const s = 'ü€';  )\n".encode(), "1:18 unexpected )"),  # column counts characters, not bytes
])
def test_syntax_error_position(path: str, src: bytes, expected: str) -> None:
    v = validate_file(path, src, len(src))
    assert (v.reason, v.detail) == ("syntax_error", expected)


def test_comment_ratio_counts_nested_comment_nodes_once() -> None:
    # Rust doc comments nest (line_comment > doc_comment + marker); Lua comments hold comment_content.
    for path, src in (("a.rs", b"/// Adds one.\n/// Really.\nfn f(x: i32) -> i32 { x + 1 }\n"),
                      ("a.lua", b"-- a comment\nlocal x = 1\n")):
        v = validate_file(path, src, len(src))
        comment = sum(len(line) for line in src.split(b"\n") if line.startswith((b"//", b"--")))
        n_lines = sum(1 for line in src.split(b"\n") if line.startswith((b"//", b"--")))
        # Rust's doc-comment node includes its newline, Lua's comment does not: both are one count per comment.
        assert comment / len(src) <= v.metrics["comment_ratio"] <= (comment + n_lines) / len(src), path


def test_max_depth_and_function_count_exact() -> None:
    src = b"def f():\n    def g():\n        return 1\n    return g\n"
    v = validate_file("a.py", src, len(src))
    # module > function_definition > block > function_definition > block > return_statement > integer
    assert (v.metrics["function_count"], v.metrics["max_depth"]) == (2, 6)


def test_c_header_with_cpp_falls_back_to_cpp() -> None:
    src = b"#pragma once\nnamespace a {\nclass B { public: int f() const; };\n}\n"
    v = validate_file("inc/b.h", src, len(src))
    assert (v.reason, v.language) == (None, "cpp")
    # No C++ hint the regex knows (so the C grammar runs first and fails), valid C++: the header falls back.
    src = b"template <typename T> T twice(T x) { return x + x; }\n"
    assert validate_file("inc/t.H", src, len(src)).language == "cpp"
    assert validate_file(None, src, len(src), language_hint="c").language == "cpp"  # a fenced block says "c"


def test_c_source_is_not_parsed_again_as_cpp() -> None:
    """``.c`` names C: C++ in it is a syntax error at the first C++ construct, not a C++ file."""
    src = b"template <typename T> T twice(T x) { return x + x; }\n"
    v = validate_file("src/t.c", src, len(src))
    assert (v.reason, v.language) == ("syntax_error", "c")
    assert v.detail.startswith("1:")
    src = b"/* unlike std::vector, this is C */\nint f(void) { return 0; }\n"
    assert validate_file("src/v.c", src, len(src)).language == "c"


def _corrupt_loose_object(repo_path: str, oid: str) -> None:
    obj = os.path.join(repo_path, ".git", "objects", oid[:2], oid[2:])
    os.chmod(obj, 0o644)
    with open(obj, "wb") as f:
        f.write(b"this is not zlib data")


def _make_shallow(repo_path: str) -> None:
    import pygit2

    repo = pygit2.Repository(repo_path)
    head = repo.head.peel(pygit2.Commit)
    with open(os.path.join(repo_path, ".git", "shallow"), "w") as f:
        f.write(f"{head.id}\n")
    parent = head.parents[0].id  # the graft point hides it; remove it to be a real shallow clone
    os.remove(os.path.join(repo_path, ".git", "objects", str(parent)[:2], str(parent)[2:]))


def test_bad_inputs_each_become_one_reject_and_good_files_are_kept(tmp_path) -> None:
    good = b"def ok():\n    return 1\n"
    files = {
        "good.py": good,
        "symlink.py": ("link", "good.py"),
        "ext/lib": ("submodule", "1" * 40),
        "big.bin": b"x" * (100 * 1024 * 1024),  # 100 MB: rejected from the object header, never inflated
        "model.py": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 12345\n",
        "nul.py": b"x = 1\n\x00\x01\x02\n",
        "latin1.py": "s = 'caf\u00e9'\n".encode("latin-1"),
        "node_modules/pkg/index.js": b"module.exports = 1;\n",
        "third_party/x/y.c": b"int x;\n",
        "api_pb2.py": b"x = 1\n",
        "gen.py": b"# This file was automatically generated. Do not edit.\nx = 1\n",
        "app.min.js": b"var a=1;\n",
        "bundle.js": b"var a=[" + b"1," * 2000 + b"1];\n",
        "broken.py": b"def f(:\n",
        "empty.py": b"",
        "notes.xyz": b"hello\n",
        "pkg/corrupt.py": b"y = 2\n",
        "lost/a.py": b"z = 3\n",  # its tree object gets corrupted: one reject for the subtree, the rest goes on
        "table.py": b"DATA = [\n" + b"    12345, 67890, 13579, 24680,\n" * 100 + b"]\n",
    }
    repo = make_repo(str(tmp_path / "bad"), files)
    corrupt_oid = str(repo.revparse_single("HEAD:pkg/corrupt.py").id)
    _corrupt_loose_object(str(tmp_path / "bad"), corrupt_oid)
    _corrupt_loose_object(str(tmp_path / "bad"), str(repo.revparse_single("HEAD:lost").id))
    make_repo(str(tmp_path / "bare.git"), {"lib.go": b"package lib\n\nfunc F() int { return 1 }\n"}, bare=True)
    make_repo(str(tmp_path / "shallow"), {"s.rs": b"fn main() {}\n"}, commits=2)
    _make_shallow(str(tmp_path / "shallow"))
    import pygit2

    pygit2.init_repository(str(tmp_path / "empty"))
    (tmp_path / "plain").mkdir()
    units = [RepoEntry(str(tmp_path / n), n).unit for n in ("bad", "missing", "plain", "empty", "bare.git",
                                                           "shallow")]
    result = run_units(units)

    reasons = reasons_by_path(result)
    assert reasons == {
        "symlink.py": "symlink", "ext/lib": "submodule", "big.bin": "too_large", "model.py": "lfs_pointer",
        "nul.py": "binary", "latin1.py": "decode_error", "node_modules/pkg/index.js": "vendored",
        "third_party/x/y.c": "vendored", "api_pb2.py": "generated", "gen.py": "generated",
        "app.min.js": "generated", "bundle.js": "generated", "broken.py": "syntax_error", "empty.py": "empty",
        "notes.xyz": "unknown_language", "pkg/corrupt.py": "corrupt_object", "table.py": "data_like",
        "lost": "corrupt_object",
        str(tmp_path / "missing"): "repo_not_found", str(tmp_path / "plain"): "not_a_repo",
        str(tmp_path / "empty"): "empty_repo",
    }
    kept = {(r["repo"], r["path"]) for r in result.kept.to_pylist()}
    assert kept == {("bad", "good.py"), ("bare.git", "lib.go"), ("shallow", "s.rs")}
    # Accounting: every file of a readable repo and every unreadable repo is exactly one kept row or reject.
    assert result.stats["files_in"] == len(files) + 2  # "lost/" counts once, as the unreadable subtree
    assert len(kept) + result.rejects.num_rows == result.stats["files_in"] + 3
    assert result.stats["repos_in"] == 6 and result.stats["repos_rejected"] == 3 and result.stats["repos_shallow"] == 1
    details = column_map(result.rejects, "reason", "detail")
    assert details["syntax_error"].startswith("1:7 ") and "104857600 bytes" in details["too_large"]
    assert "offset 6" in details["binary"] and "byte 8" in details["decode_error"]


def test_ids_are_stable_and_unique(tmp_path) -> None:
    make_repo(str(tmp_path / "r"), {"a.py": b"x = 1\n", "b/a.py": b"x = 1\n"})
    unit = RepoEntry(str(tmp_path / "r"), "r").unit
    first, second = run_units([unit]), run_units([unit])
    ids = first.kept.column("id").to_pylist()
    assert len(set(ids)) == 2 and ids == second.kept.column("id").to_pylist()


def test_language_filter_and_thresholds_from_config() -> None:
    src = b"x = 1\n" + b"y = '" + b"a" * 300 + b"'\n"
    assert validate_file("a.py", src, len(src)).reason == "long_lines"
    loose = CodeConfig(language_thresholds=(("python", CodeConfig().thresholds.__class__(max_line_length=5000,
                                                                                          max_mean_line_length=500)),))
    assert validate_file("a.py", src, len(src), config=loose).reason is None
    assert validate_file("a.py", b"x = 1\n", 6, config=CodeConfig(languages=("go",))).reason == "unknown_language"


def test_batches_are_bounded(tmp_path) -> None:
    make_repo(str(tmp_path / "r"), {f"m{i}.py": f"x = {i}\n".encode() for i in range(20)})
    tables = [t for t in RepoSource(files_per_batch=7).read(RepoEntry(str(tmp_path / "r"), "r").unit)
              if isinstance(t, pa.Table)]
    assert [t.num_rows for t in tables] == [7, 7, 6]
    assert Counter(CodeStage().process(tables[0], "u").kept.column("language").to_pylist()) == {"python": 7}


