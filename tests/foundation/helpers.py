"""Builders for small real inputs: Parquet/JSONL shards with planted duplicates and bad rows."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega code flow lake shard spark datatrove parquet arrow").split()


def make_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) + f" #{i}" for i in range(n)]


def write_corpus(folder: Path, n_files: int = 4, per_file: int = 50, dup_rate: float = 0.2,
                 seed: int = 0) -> dict:
    """Parquet shards where some rows repeat earlier rows (possibly with whitespace changes).

    Returns the ground truth: number of rows and of distinct normalized texts.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base = make_docs(n_files * per_file, seed)
    distinct: set[str] = set()
    total = 0
    for f in range(n_files):
        rows = []
        for i in range(per_file):
            if distinct and rng.random() < dup_rate:
                t = rng.choice(sorted(distinct))
                t = rng.choice([t, t + "   ", t + "\r\n"])
            else:
                t = base[f * per_file + i]
            distinct.add(t.strip())
            rows.append({"text": t, "url": f"https://example.org/{f}/{i}"})
        pq.write_table(pa.Table.from_pylist(rows), folder / f"shard-{f:02d}.parquet")
        total += len(rows)
    return {"rows": total, "distinct": len(distinct)}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def kill_when(args: list[str], ready, timeout: float = 120.0) -> bool:
    """Start the CLI, SIGKILL it as soon as ``ready()``; False if it finished first."""
    proc = subprocess.Popen([sys.executable, "-m", "codeflow.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.wait()
    return False
