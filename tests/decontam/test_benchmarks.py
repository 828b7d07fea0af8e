"""The benchmark registry: bundled data is complete and licensed; bad user files fail naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from codeflow.decontam.benchmarks import REGISTRY, BenchmarkError, load_items, parse_user_benchmark, resolve

EXPECTED = {"humaneval": 164, "mbpp": 974, "mbxp": 11451, "humaneval-x": 1770, "cruxeval": 800, "classeval": 100,
            "gsm8k": 1319, "math500": 500, "math": 5000, "bigcodebench": 1140}


def test_bundled_counts_and_licences() -> None:
    assert set(REGISTRY) == set(EXPECTED)
    for name, n in EXPECTED.items():
        b = REGISTRY[name]
        items = load_items(b)
        assert len(items) == n, name
        assert len({it.task_id for it in items}) == n
        lic = Path(b.license_file())
        assert lic.exists() and lic.stat().st_size > 500, name
    he = load_items(REGISTRY["humaneval"])
    assert he[0].task_id == "HumanEval/0" and "def has_close_elements" in he[0].segments[0][2]
    total = sum(Path(REGISTRY[n].file()).stat().st_size for n in EXPECTED)
    assert total < 4_000_000  # modest package data


def _user(tmp_path: Path, lines: list[bytes], fields: str = "question@prose,answer@prose") -> str:
    p = tmp_path / "bench.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    return f"mine={p}:{fields}"


@pytest.mark.parametrize("lines, message", [
    ([b'{"task_id": "a", "question": "q one two", "answer": "x"}', b'{"task_id": "b", "question": "q"}'],
     r"bench.jsonl:2: missing field 'answer'"),
    ([b'{"task_id": "a", "question": "", "answer": "  "}'], r"bench.jsonl:1: empty item"),
    ([b'{"task_id": "a", "question": "caf\xe9 au lait", "answer": "x"}'], r"bench.jsonl:1: not UTF-8"),
    ([b'{"task_id": "a", "question": 3, "answer": "x"}'], r"bench.jsonl:1: field 'question' is int"),
    ([b'{"task_id": "a", "question": "q", "answer": "x"}', b"{oops"], r"bench.jsonl:2: not a JSON object"),
    ([b'{"task_id": "a", "question": "q", "answer": "x"}', b'{"task_id": "a", "question": "r", "answer": "y"}'],
     r"bench.jsonl:2: duplicate task id 'a'"),
])
def test_bad_user_files_name_file_and_line(tmp_path: Path, lines: list[bytes], message: str) -> None:
    with pytest.raises(BenchmarkError, match=message):
        load_items(parse_user_benchmark(_user(tmp_path, lines)))


def test_user_file_gzip_and_specs(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"id": 7, "prompt": "def f(x):\\n    return x * 42\\n"}\n'))
    b = parse_user_benchmark(f"bcb={p}:prompt")
    items = load_items(b)
    assert [(it.task_id, it.segments[0][:2]) for it in items] == [("7", ("prompt", "code"))]
    for bad in ("nofields", f"x={p}", f"x={p}:a@sql", "=p:a", f"x={tmp_path}/missing.jsonl:a"):
        with pytest.raises(BenchmarkError):
            parse_user_benchmark(bad)
    bcb = load_items(resolve("bigcodebench")[0])  # bundled since v0.1 was found in its annotation repository
    assert len(bcb) == 1140 and bcb[0].task_id == "BigCodeBench/0"
    assert [(f, k) for f, k, _ in bcb[0].segments] == [("instruct_prompt", "prose"), ("complete_prompt", "code"),
                                                      ("canonical_solution", "code")]
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'"):
        resolve("humaneval,nope")
    assert [b.name for b in resolve("gsm8k", (f"bcb={p}:prompt",))] == ["gsm8k", "bcb"]
