"""Benchmark: what checked reading (``codeflow.sources.read_input_file``) costs over plain pyarrow.

Anchor (same run, same files): ``pyarrow.json.read_json`` / ``pyarrow.parquet.read_table``, which do not
check UTF-8 and give up a whole JSONL file for one bad line. Ours validates every string and reads a file
with bad lines line by line (one reject per bad line), so the line-by-line case is timed too.

    python bench/read_inputs.py                 # 40,000 rows (~25 MB of JSONL), best of 3
    python bench/read_inputs.py --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from codeflow.sources import read_input_file

WORDS = "alpha beta gamma delta code flow lake shard spark arrow parquet".split()


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(0)
    rows = [{"id": f"r{i}", "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200))), "stars": i}
            for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as d:
        clean, bad, parquet = (os.path.join(d, n) for n in ("clean.jsonl", "bad.jsonl", "x.parquet"))
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        with open(clean, "w") as f:
            f.write(lines)
        with open(bad, "w") as f:
            f.write("not json\n" + lines)
        pq.write_table(pa.Table.from_pylist(rows), parquet)
        mb = os.path.getsize(clean) / 1e6
        anchor = best(lambda: pajson.read_json(clean), args.rounds)
        ours = best(lambda: read_input_file(clean, "bench"), args.rounds)
        ours_bad = best(lambda: read_input_file(bad, "bench"), args.rounds)
        pq_anchor = best(lambda: pq.read_table(parquet), args.rounds)
        pq_ours = best(lambda: read_input_file(parquet, "bench"), args.rounds)
    print(f"JSONL {mb:.1f} MB, {args.rows:,} rows: pyarrow {anchor:.3f}s | codeflow {ours:.3f}s "
          f"(x{ours / anchor:.2f} of the anchor)")
    print(f"JSONL with one bad line (pyarrow: whole file lost) | codeflow {ours_bad:.3f}s (x{ours_bad / anchor:.2f})")
    print(f"Parquet: pyarrow {pq_anchor:.3f}s | codeflow {pq_ours:.3f}s (x{pq_ours / pq_anchor:.2f})")


if __name__ == "__main__":
    main()
