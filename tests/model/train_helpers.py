"""Small real lakes for the trainer tests, written with codeflow's own lake writer (``StageOutput.commit_shard``)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from codeflow.lake import StageOutput
from codeflow.records import DOCUMENT_SCHEMA, REJECT_SCHEMA, stable_id

WORDS = ("def return class import self value index shard lake token loop parallel model train data "
         "for while if else print range len list dict yield async await").split()


def make_texts(n: int, seed: int = 0, max_words: int = 60) -> list[str]:
    """Code-like documents of varied length (some longer than a tiny sequence), with unicode and specials."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, max_words))]
        body = " ".join(words).replace(" return", "\n    return")
        if i % 7 == 0:
            body = f"<|fim_prefix|>{body}<|fim_suffix|>ü{i}<|fim_middle|>x = {i}<|im_end|>"
        out.append(f"# doc {i} ✓\n{body}\n")
    return out


def write_stage(url: str, texts: list[str], n_shards: int = 2, stage: str = "documents") -> StageOutput:
    """Commit ``texts`` as ``n_shards`` document shards (round-robin) and finalize the stage output."""
    out = StageOutput(url)
    for s in range(n_shards):
        part = texts[s::n_shards]
        rows = [{"id": stable_id(t, str(s), str(i)), "text": t, "source": f"test:{s}:{i}", "url": None,
                 "language": None, "metadata": None} for i, t in enumerate(part)]
        kept = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
        out.commit_shard(s, kept, REJECT_SCHEMA.empty_table(), {"rows_in": len(part)}, f"unit-{s}", "test")
    out.finalize(stage, n_shards, DOCUMENT_SCHEMA, {}, {"rows_in": len(texts)})
    return out


def shard_texts(out: StageOutput) -> list[str]:
    return out.read_kept(["text"]).column("text").to_pylist()


def tmp_lake(tmp_path: Path, n_docs: int = 120, seed: int = 0) -> tuple[str, list[str]]:
    texts = make_texts(n_docs, seed)
    url = str(tmp_path / "lake" / "documents" / "test")
    write_stage(url, texts)
    return url, texts
