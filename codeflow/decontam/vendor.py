"""Regenerate ``codeflow/data/benchmarks/`` from the benchmarks' public git repositories (maintainers only).

Why a script: the bundled files are a reduced copy (only the fields decontamination matches on, gzip with a
zeroed mtime so the bytes are reproducible), and a reviewer must be able to check every item against its
origin. ``SOURCES`` names the repository, commit and path of each file; fetch the repositories as bare git
directories and run ``python -m codeflow.decontam.vendor MIRROR_ROOT`` where ``MIRROR_ROOT/<owner>+<name>/repo``
is each one's git dir (names after it: only those benchmarks). Provenance and licences are listed in
docs/decontamination.md.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "benchmarks"

# name -> (repo, commit, [(path, language or None)], fields kept, licence path in the repo)
HE_LANGS = ("csharp_v1", "go_v1", "java_v1.1", "javascript_v1.1", "kotlin_v1.1", "perl_v1.1", "php_v1.1", "ruby_v1.1",
            "scala_v1.1", "swift_v1.1", "typescript_v1")
MBXP = ("mbcpp_release_v1.2", "mbcsp_release_v1.2", "mbgp_release_v1.1", "mbjp_release_v1.2", "mbjsp_release_v1.2",
        "mbkp_release_v1.2", "mbphp_release_v1.2", "mbplp_release_v1", "mbrbp_release_v1.2", "mbscp_release_v1",
        "mbswp_release_v1", "mbtsp_release_v1.2")
SOURCES: dict[str, dict] = {
    "humaneval": {"repo": "openai/human-eval", "commit": "6d43fb980f9fee3c892a914eda09951f772ad10d",
                  "paths": ["data/HumanEval.jsonl.gz"], "fields": ["prompt", "canonical_solution"],
                  "license": "LICENSE"},
    "mbpp": {"repo": "amazon-science/mxeval", "commit": "e09974f990eeaf0c0e8f2b5eaff4be66effb2c86",
             "paths": ["data/mbxp/mbpp_release_v1.jsonl"], "fields": ["description", "prompt", "canonical_solution"],
             "license": "data/mbxp/LICENSE"},
    "mbxp": {"repo": "amazon-science/mxeval", "commit": "e09974f990eeaf0c0e8f2b5eaff4be66effb2c86",
             "paths": [f"data/mbxp/{m}.jsonl" for m in MBXP], "fields": ["prompt", "canonical_solution"],
             "license": "data/mbxp/LICENSE"},
    "humaneval-x": {"repo": "amazon-science/mxeval", "commit": "e09974f990eeaf0c0e8f2b5eaff4be66effb2c86",
                    "paths": [f"data/multilingual_humaneval/HumanEval_{lang}.jsonl" for lang in HE_LANGS],
                    "fields": ["prompt", "canonical_solution"], "license": "data/multilingual_humaneval/LICENSE"},
    "cruxeval": {"repo": "facebookresearch/cruxeval", "commit": "190faf16d175b5847b0af05d937872b1fb395942",
                 "paths": ["data/cruxeval.jsonl"], "fields": ["code"], "id": "id", "license": "LICENSE"},
    "classeval": {"repo": "FudanSELab/ClassEval", "commit": "eaeac44d0d5dcd8a95feec50726d66fedc73a98f",
                  "paths": ["data/ClassEval_data.json"], "fields": ["skeleton", "solution_code"],
                  "license": "LICENSE"},
    "gsm8k": {"repo": "openai/grade-school-math", "commit": "3101c7d5072418e28b9008a6636bde82a006892c",
              "paths": ["grade_school_math/data/test.jsonl"], "fields": ["question", "answer"], "license": "LICENSE"},
    # openai/prm800k keeps prm800k/math_splits/test.jsonl in Git LFS (sha256 35dc4108...); the byte-identical
    # file (same sha256) is read from a public copy. The licence is prm800k's (MIT).
    "math500": {"repo": "wulei20/AML_HW4_Infer", "commit": "1460fcce590211503876311be7fdb1103117afd4",
                "paths": ["data/math500/test1.jsonl"], "fields": ["problem", "solution"], "id": "unique_id",
                "license": None, "license_from": ("openai/prm800k", "LICENSE"),
                "sha256": "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132"},
    # The MATH test split (5,000 problems with their final answers; ids test/<subject>/<n>.json) as the CS336
    # assignment ships it; the licence is MATH's own (hendrycks/math, MIT).
    "math": {"repo": "dipperwang5/assignment5-alignment", "commit": "46ad6caaa066a26965f2f58d18abc5e30bc5ec19",
             "paths": ["data/MATH/validation.jsonl"], "fields": ["problem", "answer"], "id": "unique_id",
             "license": None, "license_from": ("hendrycks/math", "LICENSE")},
    # BigCodeBench v0.1 (1,140 tasks) in its Hugging Face layout, as the benchmark's own annotation repository
    # keeps it (the main repository holds only code; the hub and release assets are not reachable here).
    "bigcodebench": {"repo": "bigcode-project/bigcodebench-annotation",
                     "commit": "a3b89850db670d7302571142b881e4f85eef18e3", "paths": ["hf_data/BigCodeBench.jsonl.gz"],
                     "fields": ["instruct_prompt", "complete_prompt", "canonical_solution"], "license": "LICENSE"},
}


def git_show(mirror: Path, repo: str, commit: str, path: str) -> bytes:
    git_dir = mirror / repo.replace("/", "+") / "repo"
    return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def rows_of(data: bytes, path: str) -> list[dict]:
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9, filename="") as f:
        f.write(data)
    return buf.getvalue()


def main(mirror: Path, names: list[str]) -> None:
    import hashlib

    (OUT / "licenses").mkdir(parents=True, exist_ok=True)
    for name, src in SOURCES.items():
        if names and name not in names:
            continue
        items = []
        for path in src["paths"]:
            raw = git_show(mirror, src["repo"], src["commit"], path)
            if "sha256" in src and hashlib.sha256(raw).hexdigest() != src["sha256"]:
                raise SystemExit(f"{name}: {path} does not have the expected sha256")
            for i, row in enumerate(rows_of(raw, path)):
                task = row.get(src.get("id", "task_id")) or f"{Path(path).stem}/{i}"
                items.append({"task_id": str(task), **{f: row[f] for f in src["fields"] if row.get(f)}})
        lines = "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items)
        (OUT / f"{name}.jsonl.gz").write_bytes(gz(lines.encode("utf-8")))
        repo, lic = src.get("license_from") or (src["repo"], src["license"])
        (OUT / "licenses" / f"{name}.LICENSE").write_bytes(git_show(mirror, repo, "HEAD", lic))
        print(f"{name}: {len(items)} items")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
