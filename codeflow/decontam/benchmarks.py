"""The benchmark registry: which evaluation sets decontamination matches against, and how each item is read.

A benchmark is a name, a loader and the fields that matter. Each field is one *segment* matched on its own
(HumanEval's prompt and its canonical solution are two segments), with a kind that picks the normalisation:
``code`` (code tokens, comments and whitespace ignored) or ``prose`` (lowercased words, punctuation ignored).
A record that copies only the question of a GSM8K item is then caught by the question's own share, instead of
being diluted by the answer's n-grams.

Bundled benchmarks live in ``codeflow/data/benchmarks/NAME.jsonl.gz`` (one JSON object per line, ``task_id`` plus
the fields), each with its licence in ``licenses/NAME.LICENSE``; ``codeflow/decontam/vendor.py`` regenerates
them and docs/decontamination.md cites the repository and commit of each. Any other benchmark is a user file:
``--benchmark name=path.jsonl:field1,field2`` (JSON lines, UTF-8; gzip when the name ends in ``.gz``).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from codeflow.errors import CodeflowError

KINDS = ("code", "prose")


class BenchmarkError(CodeflowError):
    """A benchmark name or file a user must fix: unknown name, unreadable file, missing field (names file:line)."""


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark: ``fields`` maps each matched field to its kind (``code`` or ``prose``)."""

    name: str
    fields: tuple[tuple[str, str], ...]
    description: str = ""
    path: str | None = None           # a user file; None for bundled data
    license: str = ""
    id_field: str = "task_id"

    @property
    def bundled(self) -> bool:
        return self.path is None

    def file(self) -> str:
        if self.path is not None:
            return self.path
        return str(resources.files("codeflow") / "data" / "benchmarks" / f"{self.name}.jsonl.gz")

    def license_file(self) -> str | None:
        if self.path is not None:
            return None
        return str(resources.files("codeflow") / "data" / "benchmarks" / "licenses" / f"{self.name}.LICENSE")


@dataclass(frozen=True)
class Item:
    """One benchmark task: ``segments`` are ``(field, kind, text)`` in registry order."""

    benchmark: str
    task_id: str
    segments: tuple[tuple[str, str, str], ...]


C, P = "code", "prose"
REGISTRY: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("humaneval", (("prompt", C), ("canonical_solution", C)),
              "HumanEval: 164 Python functions (signature + docstring, canonical solution)", license="MIT"),
    Benchmark("mbpp", (("description", P), ("prompt", C), ("canonical_solution", C)),
              "MBPP: all 974 Python tasks (description, signature + docstring, solution), as in MBXP",
              license="CC-BY-4.0"),
    Benchmark("mbxp", (("prompt", C), ("canonical_solution", C)),
              "MBXP: MBPP in 12 other languages (C++, C#, Go, Java, JS, Kotlin, PHP, Perl, Ruby, Scala, Swift, TS)",
              license="CC-BY-4.0"),
    Benchmark("humaneval-x", (("prompt", C), ("canonical_solution", C)),
              "Multilingual HumanEval (MXEval): HumanEval in 11 other languages", license="MIT"),
    Benchmark("cruxeval", (("code", C),), "CRUXEval: 800 short Python functions", license="MIT"),
    Benchmark("classeval", (("skeleton", C), ("solution_code", C)),
              "ClassEval: 100 class-level Python tasks (skeleton, solution)", license="MIT"),
    Benchmark("gsm8k", (("question", P), ("answer", P)), "GSM8K test: 1,319 grade-school math problems",
              license="MIT"),
    Benchmark("math500", (("problem", P), ("solution", P)), "MATH-500 (PRM800K test split of MATH)", license="MIT"),
    Benchmark("math", (("problem", P),), "MATH test: 5,000 competition problems", license="MIT"),
    Benchmark("bigcodebench", (("instruct_prompt", P), ("complete_prompt", C), ("canonical_solution", C)),
              "BigCodeBench v0.1: 1,140 library-heavy Python tasks (instruction, signature + docstring, solution)",
              license="Apache-2.0"),
]}
DEFAULT_BENCHMARKS = tuple(REGISTRY)
# known benchmarks we cannot ship (name -> why and how to pass it as a file); listed by `codeflow benchmarks list`
NOT_BUNDLED: dict[str, str] = {}


def parse_user_benchmark(spec: str) -> Benchmark:
    """``name=path.jsonl:field1,field2`` (a field may say its kind: ``question@prose``; default ``code``).

    The last ``:`` separates the fields, so Windows drive letters and URLs in the path still work.
    """
    name, eq, rest = spec.partition("=")
    path, colon, fields = rest.rpartition(":")
    if not eq or not name.strip() or not colon or not path or not fields.strip():
        raise BenchmarkError(f"--benchmark {spec!r}: expected name=path.jsonl:field1,field2")
    parsed = []
    for f in fields.split(","):
        field_name, _, kind = f.strip().partition("@")
        kind = kind or C
        if not field_name or kind not in KINDS:
            raise BenchmarkError(f"--benchmark {spec!r}: bad field {f!r} (use field or field@code / field@prose)")
        parsed.append((field_name, kind))
    if not Path(path).is_file():
        raise BenchmarkError(f"--benchmark {spec!r}: no such file {path}")
    return Benchmark(name.strip(), tuple(parsed), f"user file {path}", path=path, license="user-supplied")


def resolve(names: str | None, user_specs: tuple[str, ...] = ()) -> list[Benchmark]:
    """The benchmarks of ``--benchmarks a,b`` (``all`` or None: every bundled one) plus the ``--benchmark`` files."""
    chosen: list[Benchmark] = []
    wanted = [n.strip() for n in (names or "all").split(",") if n.strip()]
    for n in wanted:
        if n == "all":
            chosen.extend(REGISTRY.values())
        elif n == "none":
            continue
        elif n in REGISTRY:
            chosen.append(REGISTRY[n])
        elif n in NOT_BUNDLED:
            raise BenchmarkError(f"benchmark {n!r} is not bundled: {NOT_BUNDLED[n]}")
        else:
            raise BenchmarkError(f"unknown benchmark {n!r}; registered: {', '.join(REGISTRY)} "
                                 f"(or pass a file with --benchmark name=path.jsonl:field1,field2)")
    chosen.extend(parse_user_benchmark(s) for s in user_specs)
    seen: dict[str, Benchmark] = {}
    for b in chosen:
        if b.name in seen and seen[b.name] != b:
            raise BenchmarkError(f"benchmark name {b.name!r} given twice")
        seen[b.name] = b
    if not seen:
        raise BenchmarkError("no benchmarks selected")
    return list(seen.values())


def load_items(bench: Benchmark) -> list[Item]:
    """Read and validate every item; a problem is a :class:`BenchmarkError` naming the file and line.

    Rules: each line is a JSON object in UTF-8; every listed field is present and a string; at least one of
    them is non-empty (an item with nothing to match is an error, not a silent skip); ``task_id`` (or ``id``,
    else the line number) names the item; two items may not share a task id.
    """
    path = bench.file()
    try:
        with open(path, "rb") as fb:
            raw = fb.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise BenchmarkError(f"{path}: cannot read benchmark file: {e}") from None
    items: list[Item] = []
    seen: set[str] = set()
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BenchmarkError(f"{where}: not UTF-8 (byte {e.start}: {e.reason}); re-encode the file as UTF-8") \
                from None
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise BenchmarkError(f"{where}: not a JSON object ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise BenchmarkError(f"{where}: expected a JSON object, got {type(row).__name__}")
        task = row.get(bench.id_field, row.get("id", f"line{lineno}"))
        task = str(task)
        segments = []
        for field_name, kind in bench.fields:
            if field_name not in row:
                if bench.bundled:  # bundled files drop empty fields to save space
                    continue
                raise BenchmarkError(f"{where}: missing field {field_name!r} (has: {', '.join(sorted(row))})")
            value = row[field_name]
            if not isinstance(value, str):
                raise BenchmarkError(f"{where}: field {field_name!r} is {type(value).__name__}, not a string")
            if value.strip():
                segments.append((field_name, kind, value))
        if not segments:
            raise BenchmarkError(f"{where}: empty item (fields {', '.join(f for f, _ in bench.fields)} are all empty)")
        if task in seen:
            raise BenchmarkError(f"{where}: duplicate task id {task!r}")
        seen.add(task)
        items.append(Item(bench.name, task, tuple(segments)))
    if not items:
        raise BenchmarkError(f"{path}: no items")
    return items
