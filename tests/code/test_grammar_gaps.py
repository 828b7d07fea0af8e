"""Valid files the grammars or the line heuristics used to reject, and files that are valid but not code.

Each case is a small file shaped like the real one it stands for (ripgrep, anyhow, ky, glibc-style headers, gin's
Makefile, GitHub repository configs): tolerated grammar gaps are kept and counted, a real syntax error next to
them is still rejected at its position, and the C and Python validation paths decide alike.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from codeflow.code import native
from codeflow.code.quality import CodeConfig
from codeflow.code.validate import validate_file
from codeflow.lake import StageOutput
from codeflow.pathrules import CONFIG_GROUPS, config_paths, matching_path

from .gitrepo import make_repo

# anyhow-style ``ensure!``: a matcher arm munches ``~`` tokens, valid Rust that tree-sitter-rust cannot lex.
RUST_TILDE_MACRO = b"""//! Early-return assertions.

use crate::Error;

#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err($crate::Error::msg(concat!("condition failed: ", stringify!($cond))));
        }
    };
    ($cond:expr, $msg:literal $(,)?) => {
        if !$cond {
            return Err($crate::Error::msg($msg));
        }
    };
    (0 (~$($fuel:tt)*) $rest:tt) => {
        $crate::ensure!(0 ($($fuel)*) $rest)
    };
}

pub fn half(n: u32) -> Result<u32, Error> {
    ensure!(n % 2 == 0, "odd input");
    Ok(n / 2)
}
"""

# ripgrep before the 2018 edition: ``try!`` is a macro call whose name became a keyword later.
RUST_2015_TRY = b"""use std::fs::File;
use std::io::{self, Read};

/// Reads a whole file into a string.
pub fn read_all(path: &str) -> io::Result<String> {
    let mut file = try!(File::open(path));
    let mut contents = String::new();
    try!(file.read_to_string(&mut contents));
    Ok(contents)
}
"""

# ripgrep's ignore/src/types.rs at one commit: a ``]`` missing in a table, outside any macro.
RUST_REAL_ERROR = RUST_TILDE_MACRO + b"""
const DEFAULT_TYPES: &[(&str, &[&str])] = &[
    ("make", &["Makefile", "*.mk"]),
    ("man", &["*.[0-9lnpx]", "*.[0-9][cEFMmpSx]"),
    ("matlab", &["*.m"]),
];
"""
MAN_LINE = RUST_REAL_ERROR[:RUST_REAL_ERROR.index(b'("man"')].count(b"\n") + 1

C_HAS_INCLUDE = b"""/* Portable optional-header probing. */
#ifndef COMPAT_H
#define COMPAT_H

#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define HAVE_GETRANDOM 1
#endif

#
int compat_random(void *buf, unsigned long len);
static inline int compat_min(int a, int b) { return a < b ? a : b; }

#endif /* COMPAT_H */
"""

# zlib's adler32.c: a comment inside a multi-line ``#define`` body, before the line's ``\\`` continuation.
C_DEFINE_COMMENT = b"""#define BASE 65521U

#define MOD63(a) \\
    do { /* this assumes a is not negative */ \\
        long tmp = a >> 32; \\
        a &= 0xffffffffL; \\
        if (a >= BASE) a -= BASE; \\
    } while (0)

unsigned long adler_mod(unsigned long a) {
    MOD63(a);
    return a;
}
"""

C_IF_ZERO = b"""#include <stdio.h>

#if 0
    old loop, kept for reference: for (i = 0; i < n; i++) print it !!
#endif

int main(void) {
    printf("hello\\n");
    return 0;
}
"""

C_DEAD_BRANCH_IS_LIVE = b"""#if 0
int unused(void);
#else
int used(void) { return ; + }
#endif
"""

C_CODE_ERROR = b"""#include <stdio.h>

int main(void) {
    int x = 1 +;
    return x;
}
"""

C_SPLIT_BRACES = b"""int f(int a, int b) {
#ifdef FAST
    if (a) {
#else
    if (b) {
#endif
        return 1;
    }
    return 0;
}
"""

GIN_MAKEFILE_NO_EOL = (b"GO ?= go\nPACKAGES ?= $(shell $(GO) list ./...)\n\n.PHONY: test\ntest:\n"
                       b"\t$(GO) test -v -covermode=count $(PACKAGES)\n\n.PHONY: vet\nvet:\n\t$(GO) vet $(PACKAGES)")

LONG = "The response body is consumed when populating `error.data`; " * 20  # one line of ~1200 characters
KY_HTTP_ERROR = f"""import type {{KyRequest}} from '../types/request.js';
import {{KyError}} from './KyError.js';

/**
Error thrown when the response has a non-2xx status code and `throwHttpErrors` is enabled.

{LONG}
*/
export class HTTPError extends KyError {{
	override name = 'HTTPError' as const;
	request: KyRequest;

	constructor(response: Response, request: KyRequest) {{
		super(`Request failed with status code ${{response.status}}`);
		this.request = request;
	}}
}}
""".encode()


def verdict(path: str, data: bytes, config: CodeConfig = CodeConfig()):
    return validate_file(path, data, len(data), config=config)


@pytest.mark.parametrize(("path", "data", "kind"), [
    ("src/ensure.rs", RUST_TILDE_MACRO, "macro"),
    ("src/search.rs", RUST_2015_TRY, "macro"),
    ("include/compat.h", C_HAS_INCLUDE, "preprocessor"),
    ("src/main.c", C_IF_ZERO, "preprocessor"),
    ("adler32.c", C_DEFINE_COMMENT, "preprocessor"),
])
def test_errors_only_in_macros_or_directives_are_tolerated_and_counted(path: str, data: bytes, kind: str) -> None:
    v = verdict(path, data)
    assert v.reason is None and v.tolerated == (kind,) and v.content == data.decode()
    assert v.metrics["node_count"] > 0 and v.metrics["max_depth"] > 0 and v.metrics["function_count"] >= 1
    assert v.metrics["bytes"] == len(data)
    strict = verdict(path, data, CodeConfig(tolerate_grammar_gaps=False))
    assert strict.reason == "syntax_error" and strict.tolerated == ()


@pytest.mark.parametrize(("path", "data", "where"), [
    # the unclosed ``&[`` of "man", reported although the ``~`` before it is tolerated
    ("src/types.rs", RUST_REAL_ERROR, f"{MAN_LINE}:49 missing ]"),
    ("src/bad.rs", b"fn f() {\n    m!(\"abc);\n}\n", "2:8 "),  # an unterminated string inside a macro
    ("src/bad.rs", b"fn f() {\n    m!(a ` b);\n}\n", "2:10 unexpected `"),  # no Rust token: rustc rejects it too
    ("src/bad.rs", b"fn f() {\n    m!(a \\ b);\n}\n", "2:10 unexpected \\"),
    ("src/bad.rs", b"fn f() {\n    m!(a ~ b);\n    let x = 1 +;\n}\n", "3:"),  # tolerated ``~``, then a real error
    ("src/dead.c", C_DEAD_BRANCH_IS_LIVE, "4:"),  # the #else branch of #if 0 is compiled
    ("src/main.c", C_CODE_ERROR, "4:15 "),
    ("src/split.c", C_SPLIT_BRACES, ""),  # directives that split a block: errors reach code lines
])
def test_real_syntax_errors_outside_macros_are_still_rejected(path: str, data: bytes, where: str) -> None:
    v = verdict(path, data)
    assert v.reason == "syntax_error" and v.detail.startswith(where), v.detail


def test_c_and_python_paths_decide_alike_on_tolerated_and_rejected_files() -> None:
    files = {"a.rs": RUST_TILDE_MACRO, "b.rs": RUST_2015_TRY, "c.rs": RUST_REAL_ERROR, "d.h": C_HAS_INCLUDE,
             "e.c": C_IF_ZERO, "f.c": C_DEAD_BRANCH_IS_LIVE, "g.c": C_SPLIT_BRACES, "Makefile": GIN_MAKEFILE_NO_EOL,
             "h.ts": KY_HTTP_ERROR}
    with_c = {p: verdict(p, d) for p, d in files.items()}
    with native.python_only():
        without_c = {p: verdict(p, d) for p, d in files.items()}
    assert with_c == without_c
    assert sum(v.reason is None for v in with_c.values()) == 6


def test_makefile_without_final_newline_is_valid() -> None:
    v = verdict("Makefile", GIN_MAKEFILE_NO_EOL)
    assert v.reason is None and v.language == "make" and v.content == GIN_MAKEFILE_NO_EOL.decode()
    assert v.metrics["bytes"] == len(GIN_MAKEFILE_NO_EOL) and v.metrics["function_count"] == 4  # 2 + .PHONY
    with_eol = verdict("Makefile", GIN_MAKEFILE_NO_EOL + b"\n")
    assert with_eol.metrics["node_count"] == v.metrics["node_count"]
    docker = b"FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build ./..."
    assert verdict("Dockerfile", docker).reason is None
    assert verdict("Makefile", b"test:\n\tgo test\n\tendef)\n(").reason == "syntax_error"


def test_long_lines_are_measured_outside_comments() -> None:
    assert max(map(len, KY_HTTP_ERROR.decode().splitlines())) > 1000
    v = verdict("source/errors/HTTPError.ts", KY_HTTP_ERROR)
    assert v.reason is None and v.metrics["max_line_length"] > 1000  # the metric still describes the file
    as_code = KY_HTTP_ERROR + f"export const DOC = '{LONG}';\n".encode()
    v = verdict("source/errors/HTTPError.ts", as_code)
    assert v.reason == "long_lines" and "outside comments" in v.detail and "> 1000" in v.detail
    body = b"".join(b"v%d = %d\n" % (i, i) for i in range(20))
    trailing = b"x = 1  # " + b"a" * 1200 + b"\ny = '" + b"b" * 990 + b"'\n" + body
    assert verdict("m.py", trailing).reason is None  # line 1 outside its comment: 7 characters; mean 55 < 100
    in_string = b"x = 1\ny = '" + b"b" * 1200 + b"'  # short comment\n" + body
    assert verdict("m.py", in_string).reason == "long_lines"  # a long string literal is code
    # Python's doc comments are docstrings: this checkout's pipelines/datatrove/__init__.py is one 116-character line
    docstring = b'"""datatrove adapters: run codeflow units on ``LocalPipelineExecutor`` and use stages inside ' \
                b'datatrove pipelines."""\n'
    assert verdict("pipelines/datatrove/__init__.py", docstring).reason is None
    module = b'"""Client.\n\nSee ' + b"https://example.org/" + b"x" * 1100 + b'\n"""\n\nimport os\n' + body
    assert verdict("client.py", module).reason is None


def test_config_files_are_rejected_by_path_and_ci_only_on_request() -> None:
    yml = (b"version: 2\nupdates:\n  - package-ecosystem: gomod\n    directory: /\n    schedule:\n"
           b"      interval: weekly\n")
    workflow = (b"name: test\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                b"      - run: go test\n")
    for path in (".github/dependabot.yml", ".github/FUNDING.yml", ".github/funding.yml", "renovate.json",
                 ".github/ISSUE_TEMPLATE/bug_report.yml", "codecov.yml"):
        data = b'{"extends": ["config:base"], "schedule": ["weekly"]}\n' if path.endswith(".json") else yml
        v = verdict(path, data)
        assert v.reason == "config" and "path matches" in v.detail, path
    assert verdict(".github/workflows/test.yml", workflow).reason is None
    ci = CodeConfig(config_paths=config_paths(("bots", "ci")))
    assert verdict(".github/workflows/test.yml", workflow, ci).reason == "config"
    assert verdict(".github/dependabot.yml", yml, CodeConfig(config_paths=())).reason is None
    assert verdict("docs/funding.yml.py", b"x = 1\n").reason is None
    assert matching_path("pkg/.github/dependabot.yml", config_paths(("bots",))) == ".github/dependabot.yml"
    assert matching_path("mygithub/dependabot.yml", config_paths(("bots",))) is None
    with pytest.raises(ValueError, match="unknown config group"):
        config_paths(("bots", "lint"))
    assert set(CONFIG_GROUPS) == {"bots", "ci"}


def test_tiny_markup_and_data_in_test_folders_are_fixtures() -> None:
    page = b"<!DOCTYPE html>\n<html><body><p>fixture</p></body></html>\n"
    v = verdict("tests/fixtures/simple.html", page)
    assert v.reason == "fixture" and v.detail == f"{len(page)} bytes of html under tests/"
    assert verdict("site/simple.html", page).reason is None  # not under a test folder
    assert verdict("testdata/big.html", page * 10).reason is None  # not tiny
    assert verdict("tests/test_x.py", b"def test_x():\n    assert 1\n").reason is None  # code is never a fixture
    assert verdict("tests/fixtures/simple.html", page, CodeConfig(fixture_max_bytes=0)).reason is None
    assert verdict("tests/empty.json", b"  \n").reason == "empty"  # the more precise reason wins


def test_run_counts_tolerated_files_and_lists_every_reject_by_reason(tmp_path, cli) -> None:
    page = b"<html><body><p>fixture</p></body></html>\n"
    files = {"src/ensure.rs": RUST_TILDE_MACRO, "src/search.rs": RUST_2015_TRY, "include/compat.h": C_HAS_INCLUDE,
             "src/types.rs": RUST_REAL_ERROR, "Makefile": GIN_MAKEFILE_NO_EOL,
             "source/HTTPError.ts": KY_HTTP_ERROR, ".github/FUNDING.yml": b"github: someone\npatreon: someone\n",
             ".github/workflows/ci.yml": b"name: ci\non: [push]\njobs:\n  t:\n    runs-on: ubuntu-latest\n",
             **{f"tests/fixtures/p{i:02d}.html": page for i in range(60)}}
    make_repo(str(tmp_path / "r"), files)
    (tmp_path / "list.txt").write_text("r\n")
    code, output = cli("code", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "out"))
    assert code == 0, output
    assert "kept despite parse errors only in grammar gaps: macro=2, preprocessor=1" in output
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    assert stats["counters"]["tolerated.macro"] == 2 and stats["counters"]["tolerated.preprocessor"] == 1
    out = StageOutput(str(tmp_path / "out"))
    kept = set(out.read_kept().column("path").to_pylist())
    assert kept == {"src/ensure.rs", "src/search.rs", "include/compat.h", "Makefile", "source/HTTPError.ts",
                    ".github/workflows/ci.yml"}
    assert len(kept) + out.read_rejects().num_rows == len(files) == stats["rows_in"]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Rejected as fixture: 60 files (first 50)" in report and "p49.html" in report and "p50.html" not in report
    assert "Rejected as config: 1 file" in report and "path matches funding.yml" in report
    assert "Rejected as syntax_error: 1 file" in report
    assert f"src/types.rs</code></td><td><code>{MAN_LINE}:49" in report
    assert "Kept despite parse errors" in report

    code, output = cli("--quiet", "code", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "strict"),
                       "--strict-parse", "--reject-config", "bots,ci", "--fixture-max-bytes", "0")
    assert code == 0, output
    reasons = Counter(StageOutput(str(tmp_path / "strict")).read_rejects().column("reason").to_pylist())
    assert reasons["syntax_error"] == 4 and reasons["config"] == 2 and "fixture" not in reasons
    code, output = cli("--quiet", "code", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "x"),
                       "--reject-config", "bots,lint")
    assert code == 2 and "unknown config group(s) lint" in output

