"""Real hosts and real benchmark items for the decontamination tests: stdlib files and this repo's own code."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.decontam.benchmarks import REGISTRY, load_items
from codeflow.decontam.plant import python_item
from codeflow.records import CODE_FILE_SCHEMA, stable_id

LIB = Path(sysconfig.get_paths()["stdlib"])
REPO = Path(__file__).resolve().parents[2]
HOSTS = ("textwrap.py", "shlex.py", "json/decoder.py", "difflib.py", "string/__init__.py", "csv.py", "glob.py",
         "fnmatch.py", "bisect.py", "heapq.py", "colorsys.py", "keyword.py")
BENCHES = "humaneval,mbpp,gsm8k"


def host_texts() -> list[tuple[str, str]]:
    return [(f"Lib/{h}", (LIB / h).read_text(encoding="utf-8")) for h in HOSTS if (LIB / h).exists()]


def repo_texts() -> list[tuple[str, str]]:
    files = sorted((REPO / "codeflow").glob("*.py")) + sorted((REPO / "codeflow" / "dedup").glob("*.py"))
    return [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8")) for p in files]


def humaneval(i: int) -> tuple[str, str]:
    it = load_items(REGISTRY["humaneval"])[i]
    seg = dict((f, t) for f, _, t in it.segments)
    return it.task_id, python_item(seg["prompt"], seg["canonical_solution"])


def code_row(path: str, content: str | None, repo: str = "test") -> dict:
    return {"id": stable_id(repo, path, content, prefix="file:"), "repo": repo, "commit": "0" * 40, "path": path,
            "language": "python", "content": content, "size": len((content or "").encode()), "sha": None,
            "source": f"{repo}:{path}"}


# code files as another tool may hand them over: content nullable (codeflow's own shards never hold a null)
SCHEMA = CODE_FILE_SCHEMA.set(CODE_FILE_SCHEMA.get_field_index("content"),
                              CODE_FILE_SCHEMA.field("content").with_nullable(True))


def write_shard(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), str(path))
    return str(path)
