"""The training tokenizer: a byte-level BPE (HF ``tokenizers``) with codeflow's special tokens as single tokens.

Why byte-level: any UTF-8 the lake holds (code in any language, mojibake that survived cleaning) encodes without an
unknown token and decodes back to the same string. Why these special tokens: FIM samples and commit triplets are
rendered with them (``codeflow.fim.tokens``, ``codeflow.commits.assemble``); as added special tokens they are
matched in raw text before the BPE runs, so ``<|fim_middle|>`` is always one id and never split into bytes.

The tokenizer is saved as ``tokenizer.json`` (loadable by ``tokenizers`` and ``transformers``) plus
``tokenizer_config.json`` (vocab size, special tokens and their ids, what it was trained on). This module imports
no torch: the data loader's tokenizing worker processes load it and start fast.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from codeflow.errors import CodeflowError
from codeflow.fim.tokens import QWEN
from codeflow.lake import atomic_write_bytes, atomic_write_json, to_fs
from codeflow.tokens import END_OF_SAMPLE

EOS = END_OF_SAMPLE  # the one end-of-sample token of every stage (codeflow.tokens)
# The section markers of the commit-triplet template (codeflow.commits.assemble.TEMPLATE_DOC).
TRIPLET_TOKENS = ("<|context|>", "<|commit_before|>", "<|commit_msg|>", "<|commit_patch|>", "<|commit_after|>")
# Chat turns close with it; FIM samples ended with it before they took END_OF_SAMPLE. Kept as one token, in its old
# slot, so token ids of tokenizers trained earlier do not move and chat data stays tokenizable.
IM_END = "<|im_end|>"
# EOS first so it gets id 0 and stays stable whatever else is added later.
SPECIAL_TOKENS: tuple[str, ...] = (EOS, QWEN.prefix, QWEN.suffix, QWEN.middle, IM_END, QWEN.repo_name, QWEN.file_sep,
                                   *TRIPLET_TOKENS)
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # the byte alphabet plus the special tokens, before any merge
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"


class TokenizerError(CodeflowError):
    """A tokenizer that cannot be built or loaded (vocab too small, missing file): a one-line user error."""


@dataclass
class TokenizerInfo:
    """What ``tokenizer_config.json`` records, so a run can say which tokenizer (and data) it used."""

    vocab_size: int
    special_tokens: dict[str, int]
    eos_id: int
    trained_on: list[str]
    sample_docs: int
    sample_bytes: int
    sha256: str  # of tokenizer.json: a checkpoint refuses to resume with another tokenizer


def build_trainer(vocab_size: int, min_frequency: int = 2) -> tuple[Tokenizer, trainers.BpeTrainer]:
    if vocab_size < MIN_VOCAB:
        raise TokenizerError(f"vocab size {vocab_size} is below the minimum {MIN_VOCAB} "
                             f"(256 bytes + {len(SPECIAL_TOKENS)} special tokens)")
    tok = Tokenizer(models.BPE())
    # use_regex: GPT-2 style pre-split (words, numbers, punctuation, whitespace runs) so merges stay inside them.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    return tok, trainer


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Train on ``texts``; the special tokens are registered as special (never split, kept by ``decode``)."""
    tok, trainer = build_trainer(vocab_size, min_frequency)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def special_ids(tok: Tokenizer) -> dict[str, int]:
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    missing = [t for t, i in ids.items() if i is None]
    if missing:
        raise TokenizerError(f"tokenizer lacks special tokens {missing}")
    return ids


def decode(tok: Tokenizer, ids: Sequence[int]) -> str:
    """Decode keeping special tokens, so ``decode(encode(text)) == text`` for any text."""
    return tok.decode(list(ids), skip_special_tokens=False)


def save_tokenizer(tok: Tokenizer, out_url: str, trained_on: list[str], sample_docs: int,
                   sample_bytes: int) -> TokenizerInfo:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` atomically into the folder ``out_url``."""
    fs, root = to_fs(out_url)
    data = tok.to_str(pretty=False).encode()
    ids = special_ids(tok)
    info = TokenizerInfo(vocab_size=tok.get_vocab_size(), special_tokens=ids, eos_id=ids[EOS],
                         trained_on=trained_on, sample_docs=sample_docs, sample_bytes=sample_bytes,
                         sha256=hashlib.sha256(data).hexdigest())
    atomic_write_bytes(fs, posixpath.join(root, TOKENIZER_FILE), data)
    atomic_write_json(fs, posixpath.join(root, CONFIG_FILE), asdict(info))
    return info


def tokenizer_file(url: str) -> str:
    """``url`` itself if it names a file, else ``url/tokenizer.json``."""
    return url if url.endswith(".json") else url.rstrip("/") + "/" + TOKENIZER_FILE


def load_tokenizer_json(url: str) -> str:
    fs, path = to_fs(tokenizer_file(url))
    if not fs.exists(path):
        raise TokenizerError(f"no tokenizer at {tokenizer_file(url)} (train one: codeflow tokenizer train --input "
                             f"<lake> --vocab-size N)")
    with fs.open(path, "rb") as f:
        return f.read().decode()


def load_tokenizer(url: str) -> Tokenizer:
    tok = Tokenizer.from_str(load_tokenizer_json(url))
    special_ids(tok)
    return tok


def json_sha256(tokenizer_json: str) -> str:
    return hashlib.sha256(tokenizer_json.encode()).hexdigest()


# ---- worker-process side of the data loader (codeflow.model.data) -----------------------------------------------

_WORKER_TOK: Tokenizer | None = None


def init_worker(tokenizer_json: str) -> None:
    """Pool initializer: each tokenizing process parses the tokenizer once."""
    global _WORKER_TOK
    _WORKER_TOK = Tokenizer.from_str(tokenizer_json)


def encode_texts(texts: list[str], tok: Tokenizer | None = None) -> list[np.ndarray]:
    """Token ids of each text as int32 arrays (compact to send back from a worker process)."""
    tok = tok or _WORKER_TOK
    if tok is None:
        raise RuntimeError("encode_texts called in a process without init_worker")
    return [np.asarray(e.ids, dtype=np.int32) for e in tok.encode_batch(texts, add_special_tokens=False)]


def describe(info_url: str) -> dict:
    """The saved ``tokenizer_config.json`` as a dict (empty if there is none)."""
    fs, root = to_fs(info_url)
    path = posixpath.join(root, CONFIG_FILE)
    if not fs.exists(path):
        return {}
    with fs.open(path, "rb") as f:
        return json.load(f)
