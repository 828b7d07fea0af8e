"""The training tokenizer and the packed lake loader: round trips, packing, position, DP split, bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from train_helpers import make_texts, write_stage

from codeflow.fim.tokens import QWEN
from codeflow.lake import StageOutput
from codeflow.model.data import DataError, PackedLoader, SourceSpec, resolve_sources
from codeflow.model.plt.model import doc_positions
from codeflow.model.tokenizer import (
    EOS,
    SPECIAL_TOKENS,
    TokenizerError,
    decode,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
)
from codeflow.records import CODE_FILE_SCHEMA, REJECT_SCHEMA
from codeflow.tokens import END_OF_SAMPLE

SEQ = 32


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(make_texts(300, seed=9), 400)


@pytest.fixture(scope="module")
def tok_json(tok):
    return tok.to_str()


def loader(sources, tok, **kw) -> PackedLoader:
    kw.setdefault("seq_len", SEQ)
    kw.setdefault("batch_size", 3)
    return PackedLoader(sources, tok.to_str(), tok.token_to_id(EOS), **kw)


def docs_of(batches: list[dict], tok) -> list[str]:
    """Texts rebuilt from packed rows by document id (EOS removed): what the loader fed the model."""
    per_doc: dict[int, list[int]] = {}
    for b in batches:
        for ids, docs in zip(b["idx"], b["doc_ids"], strict=True):
            for t, d in zip(ids.tolist(), docs.tolist(), strict=True):
                if d >= 0:
                    per_doc.setdefault(d, []).append(t)
    eos = tok.token_to_id(EOS)
    out = []
    for ids in per_doc.values():
        assert ids[-1] == eos  # every document ends with exactly one EOS
        out.append(decode(tok, ids[:-1]))
    return out


# ---- tokenizer ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "def f(x):\n    return x  +  1\n\n\n",
    "  leading and trailing spaces \t\r\n",
    "ünïcödé 日本語 😀 \u200b mixed",
    "<|fim_prefix|>a = <|fim_suffix|>\n<|fim_middle|>1<|im_end|>",
    "<|repo_name|>o/r\n<|file_sep|>a.py\nx<|commit_before|><|commit_msg|>fix<|commit_patch|>@@<|commit_after|>",
    "half a token <|fim_pre and <|endoftext",
    "",
])
def test_tokenizer_round_trips(tok, text):
    ids = tok.encode(text, add_special_tokens=False).ids
    assert decode(tok, ids) == text


def test_every_fim_token_and_the_end_of_sample_are_special_tokens():
    # SPECIAL_TOKENS is spelled out (ids of earlier tokenizers must not move); a FIM token added to FimTokens
    # must be added there too, or it would be split into byte pieces.
    assert {*QWEN.all(), END_OF_SAMPLE} <= set(SPECIAL_TOKENS)
    assert SPECIAL_TOKENS[0] == END_OF_SAMPLE and len(set(SPECIAL_TOKENS)) == len(SPECIAL_TOKENS)


def test_special_tokens_are_single_tokens(tok):
    for special in SPECIAL_TOKENS:
        enc = tok.encode(f"x{special}y", add_special_tokens=False)
        assert special in enc.tokens, special
        assert enc.ids.count(tok.token_to_id(special)) == 1
    assert len(set(tok.token_to_id(s) for s in SPECIAL_TOKENS)) == len(SPECIAL_TOKENS)


def test_tokenizer_save_load_and_vocab_floor(tok, tmp_path):
    info = save_tokenizer(tok, str(tmp_path / "tk"), ["documents/x"], 10, 100)
    again = load_tokenizer(str(tmp_path / "tk"))
    text = "def g():\n    return '<|fim_middle|>'\n"
    assert again.encode(text).ids == tok.encode(text).ids
    cfg = json.loads((tmp_path / "tk" / "tokenizer_config.json").read_text())
    assert cfg["vocab_size"] == info.vocab_size == tok.get_vocab_size()
    assert cfg["special_tokens"][EOS] == cfg["eos_id"]
    with pytest.raises(TokenizerError, match="below the minimum"):
        train_tokenizer(["x"], 100)


def test_tokenizer_command_saves_beside_the_data(tmp_path, cli):
    write_stage(str(tmp_path / "lake" / "documents" / "a"), make_texts(40))
    code, out = cli("tokenizer", "train", "--input", str(tmp_path / "lake" / "documents" / "a"),
                    "--vocab-size", "300")
    assert code == 0, out
    tk = load_tokenizer(str(tmp_path / "lake" / "tokenizer"))
    assert tk.get_vocab_size() <= 300
    code, out = cli("tokenizer", "train", "--input", str(tmp_path / "lake"), "--vocab-size", "10")
    assert code == 2 and "at least" in out


# ---- packing --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shuffle", [False, True])
def test_packing_loses_and_duplicates_no_token(tmp_path, tok, shuffle):
    texts = make_texts(90, seed=1)
    url = str(tmp_path / "documents" / "a")
    write_stage(url, texts, n_shards=3)
    with loader(resolve_sources([url]), tok, epochs=1, shuffle=shuffle) as ld:
        batches = list(ld)
    assert Counter(docs_of(batches, tok)) == Counter(texts)
    n_tokens = sum(len(tok.encode(t, add_special_tokens=False).ids) + 1 for t in texts)
    assert sum(int((b["doc_ids"] >= 0).sum()) for b in batches) == n_tokens == ld.stats["tokens"]
    assert ld.stats["docs"] == len(texts)
    assert ld.stats["split_docs"] > 0  # some documents are longer than a row ...
    rows_per_doc = Counter(d for b in batches for row in b["doc_ids"] for d in set(row.tolist()) if d >= 0)
    assert max(rows_per_doc.values()) >= 2  # ... and continue in the next row


def test_targets_and_positions_respect_document_boundaries(tmp_path, tok):
    url = str(tmp_path / "documents" / "a")
    write_stage(url, make_texts(60, seed=2), n_shards=2)
    with loader(resolve_sources([url]), tok, epochs=1) as ld:
        batches = list(ld)
    idx = np.concatenate([b["idx"] for b in batches])
    tgt = np.concatenate([b["targets"] for b in batches])
    docs = np.concatenate([b["doc_ids"] for b in batches])
    flat_idx, flat_docs = idx.ravel(), docs.ravel()
    eos = tok.token_to_id(EOS)
    n_checked = 0
    for r in range(len(idx)):
        for t in range(SEQ):
            g = r * SEQ + t
            if flat_docs[g] < 0:
                assert tgt[r, t] == -1
                continue
            same = g + 1 < len(flat_docs) and flat_docs[g + 1] == flat_docs[g]
            # inside a document the target is the next token (also across a row end); at its end, -1
            assert tgt[r, t] == (flat_idx[g + 1] if same else -1)
            if not same:
                assert flat_idx[g] == eos
                n_checked += 1
    assert n_checked == 60
    pos = doc_positions(torch.from_numpy(docs))
    for r in range(len(idx)):
        starts = [0] + [t for t in range(1, SEQ) if docs[r, t] != docs[r, t - 1]]
        assert all(pos[r, s] == 0 for s in starts)  # RoPE and the CLP shift restart at every document start
        assert int((pos[r] == 0).sum()) == len(starts)


def test_worker_processes_give_the_same_batches(tmp_path, tok):
    url = str(tmp_path / "documents" / "a")
    write_stage(url, make_texts(80, seed=3), n_shards=2)
    sources = resolve_sources([url])
    with loader(sources, tok, epochs=1) as a, loader(sources, tok, epochs=1, num_workers=2, chunk_docs=8) as b:
        for x, y in zip(a, b, strict=True):
            for k in x:
                assert np.array_equal(x[k], y[k])


def test_restored_position_continues_with_the_next_token(tmp_path, tok):
    write_stage(str(tmp_path / "lake" / "documents" / "a"), make_texts(70, seed=4), n_shards=3)
    write_stage(str(tmp_path / "lake" / "fim" / "b"), make_texts(50, seed=5), n_shards=2)
    sources = resolve_sources([str(tmp_path / "lake")])
    assert [s.name for s in sources] == ["documents/a", "fim/b"]
    with loader(sources, tok, num_workers=0, chunk_docs=5) as ld:
        for _ in range(7):
            ld.next_batch()
        state = json.loads(json.dumps(ld.state_dict()))  # JSON-able, as checkpoints store it
        expected = [ld.next_batch() for _ in range(40)]  # runs past the end of an epoch
    with loader(sources, tok, num_workers=0, chunk_docs=3) as again:
        again.load_state_dict(state)
        assert "next document" in again.position()
        for want in expected:
            got = again.next_batch()
            for k in want:
                assert np.array_equal(got[k], want[k])


def test_mixture_follows_the_weights_in_text_not_documents(tmp_path, tok):
    short = [f"s{i}" for i in range(400)]  # many tiny documents ...
    long = [("x" * 97 + "\n") * 4 + str(i) for i in range(40)]  # ... against few long ones
    write_stage(str(tmp_path / "documents" / "short"), short, n_shards=1)
    write_stage(str(tmp_path / "documents" / "long"), long, n_shards=1)
    sources = resolve_sources([f"{tmp_path / 'documents' / 'short'}:1", f"{tmp_path / 'documents' / 'long'}:3"])
    with loader(sources, tok, batch_size=8) as ld:
        for _ in range(40):
            ld.next_batch()
        chars = ld.state_dict()["chars"]
    # off by at most one long document (~400 characters) from the exact 3:1 split
    assert abs(chars[1] - 3 * chars[0]) <= 4 * 400
    assert sum(chars) > 8000
    assert SourceSpec.parse("s3://bucket/lake/fim:2.5") == SourceSpec("s3://bucket/lake/fim", 2.5)
    assert SourceSpec.parse("s3://bucket/lake") == SourceSpec("s3://bucket/lake", None)
    with pytest.raises(DataError):
        SourceSpec.parse("lake/x:0")


@pytest.mark.parametrize("n_shards", [1, 3])
def test_ranks_see_disjoint_data_covering_the_source(tmp_path, tok, n_shards):
    texts = make_texts(50, seed=6)
    url = str(tmp_path / "documents" / "a")
    write_stage(url, texts, n_shards=n_shards)
    sources = resolve_sources([url])
    seen = []
    for rank in range(2):
        with loader(sources, tok, epochs=1, rank=rank, world=2) as ld:
            seen.append(Counter(docs_of(list(ld), tok)))
    assert not (set(seen[0]) & set(seen[1]))
    assert seen[0] + seen[1] == Counter(texts)
    assert min(sum(s.values()) for s in seen) > 0


# ---- bad input ------------------------------------------------------------------------------------------------

def test_corrupt_shard_is_skipped_and_counted(tmp_path, tok, caplog):
    texts = make_texts(40, seed=7)
    url = tmp_path / "documents" / "a"
    write_stage(str(url), texts, n_shards=2)
    (url / "part-00002.parquet").write_bytes(b"PAR1 this is not parquet")
    good = (url / "part-00000.parquet").read_bytes()
    (url / "part-00003.parquet").write_bytes(good[: len(good) // 2])  # truncated
    with loader(resolve_sources([str(url)]), tok, epochs=1) as ld:
        batches = list(ld)
    assert ld.stats["corrupt_shards"] == 2
    assert Counter(docs_of(batches, tok)) == Counter(texts)
    assert "skipping unreadable shard" in caplog.text


def test_empty_path_and_missing_text_column_are_user_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no input files"):
        resolve_sources([str(tmp_path / "empty")])
    with pytest.raises(DataError, match="does not exist"):
        resolve_sources([str(tmp_path / "missing")])
    code = StageOutput(str(tmp_path / "code" / "x"))
    row = {f.name: None for f in CODE_FILE_SCHEMA}
    row.update(id="a", content="print(1)\n")
    code.commit_shard(0, pa.Table.from_pylist([row], schema=CODE_FILE_SCHEMA), REJECT_SCHEMA.empty_table(), {},
                      "u", "h")
    with pytest.raises(DataError, match="no 'text' column"):
        resolve_sources([str(tmp_path / "code" / "x")])
    # inside a lake root, a stage without text is left out and the others are used
    write_stage(str(tmp_path / "documents" / "d"), make_texts(5))
    assert [s.name for s in resolve_sources([str(tmp_path)])] == ["documents/d"]


def test_source_with_nothing_for_a_rank_is_an_error(tmp_path, tok):
    url = str(tmp_path / "documents" / "a")
    write_stage(url, make_texts(1), n_shards=1)
    with loader(resolve_sources([url]), tok, rank=1, world=2) as ld, pytest.raises(DataError, match="no readable"):
        ld.next_batch()


def test_lake_root_names(tmp_path):
    write_stage(str(tmp_path / "lake" / "triplets" / "demo"), make_texts(4))
    write_stage(str(tmp_path / "lake" / "fim" / "sample_file"), make_texts(4))
    sources = resolve_sources([f"{tmp_path / 'lake'}:2"])
    assert [(s.name, s.weight) for s in sources] == [("fim/sample_file", 2.0), ("triplets/demo", 2.0)]
    assert all(Path(f).name.startswith("part-") for s in sources for f in s.files)
