"""Every inference schedule reproduces the full training forward, position by position.

Window W = 3 (4 ring slots) with sequences of up to 17 tokens, so every ring buffer wraps several times; a batch
of prompts of different lengths exercises per-row positions, right padding and per-row ring slots.
"""

from __future__ import annotations

import pytest
import torch
from plt_helpers import make_plt

from codeflow.model.plt import generate as G
from codeflow.model.plt.cache import PLTCache
from codeflow.model.plt.config import PLTConfig, v1

ATOL = 1e-11
PROMPT_LENS = [5, 1, 9]
N_DECODE = 8


def run_schedule(model, seqs, prompt_lens, step, chunk_size=None):
    """Prefill each row's prompt, then feed the row's true continuation one token per step; collect logits."""
    B = len(seqs)
    idx = torch.zeros(B, max(prompt_lens), dtype=torch.long)
    for b, p in enumerate(prompt_lens):
        idx[b, :p] = seqs[b][:p]
    cache = PLTCache.empty(model.config, B, 48, dtype=torch.float64)
    first = G.prefill(model, idx, cache, torch.tensor(prompt_lens), chunk_size)
    steps = []
    for j in range(N_DECODE):
        tok = torch.stack([seqs[b][prompt_lens[b] + j] for b in range(B)])
        steps.append(step(model, tok, cache))
    return first, torch.stack(steps, dim=1), cache


def check_against_full(model, seqs, prompt_lens, first, steps):
    for b, s in enumerate(seqs):
        full = model(s[None])[0][0]
        p = prompt_lens[b]
        torch.testing.assert_close(first[b], full[p - 1], atol=ATOL, rtol=0)
        torch.testing.assert_close(steps[b], full[p : p + N_DECODE], atol=ATOL, rtol=0)


def random_seqs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 97, (p + N_DECODE,), generator=g) for p in PROMPT_LENS]


@pytest.mark.parametrize("n_loops", [1, 2, 3])
@pytest.mark.parametrize("gate_mode", ["hidden", "query"])
@pytest.mark.parametrize("step_name", ["clp", "naive"])
@pytest.mark.parametrize("chunk_size", [None, 2, 5])
def test_decode_matches_full_forward(n_loops, gate_mode, step_name, chunk_size):
    model = make_plt(n_loops=n_loops, gate_mode=gate_mode)
    step = G.decode_step_clp if step_name == "clp" else G.decode_step_naive
    seqs = random_seqs()
    first, steps, cache = run_schedule(model, seqs, PROMPT_LENS, step, chunk_size)
    check_against_full(model, seqs, PROMPT_LENS, first, steps)
    assert cache.lengths.tolist() == [p + N_DECODE for p in PROMPT_LENS]


def test_extend_gives_every_prompt_position():
    """Prefill through ``extend`` returns all positions; chunk boundaries hand over hprev, not zeros."""
    model = make_plt(n_loops=3)
    seq = random_seqs()[2][None]
    full = model(seq)[0]
    cache = PLTCache.empty(model.config, 1, 32, dtype=torch.float64)
    parts = [G.extend(model, seq[:, s : s + 3], cache) for s in range(0, seq.size(1), 3)]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=ATOL, rtol=0)


def test_v1_decodes_naively_and_refuses_clp():
    fields = ("clp_shift", "emb_scale", "hidden_scale", "normalize_per_loop", "gate_mode")
    model = make_plt(n_loops=2, **{f: getattr(v1(PLTConfig.from_preset("tiny")), f) for f in fields})
    assert not model.config.clp_shift and model.config.gate_mode == "query" and model.config.emb_scale == 0
    seqs = random_seqs(1)
    first, steps, _ = run_schedule(model, seqs, PROMPT_LENS, G.decode_step_naive, chunk_size=4)
    check_against_full(model, seqs, PROMPT_LENS, first, steps)
    cache = PLTCache.empty(model.config, 1, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="clp_shift"):
        G.decode_step_clp(model, torch.tensor([1]), cache)


def test_ring_buffer_holds_exactly_the_last_window():
    model = make_plt(n_loops=2)
    W1 = model.config.local_slots
    cache = PLTCache.empty(model.config, 2, 32, dtype=torch.float64)
    G.prefill(model, torch.randint(0, 97, (2, 6)), cache, torch.tensor([6, 2]), chunk_size=5)
    for _ in range(3):
        G.decode_step_clp(model, torch.tensor([1, 2]), cache)
    for b, n in enumerate([9, 5]):
        assert sorted(cache.loc_pos[b].tolist()) == list(range(n - W1, n))
        assert all(p % W1 == s for s, p in enumerate(cache.loc_pos[b].tolist()))


def greedy_by_recompute(model, prompt, n):
    seq = torch.tensor(prompt)[None]
    for _ in range(n):
        nxt = model(seq)[0][:, -1].argmax(-1)
        seq = torch.cat([seq, nxt[:, None]], 1)
    return seq[0, len(prompt) :]


def test_generate_greedy_and_sampled_agree_across_schedules():
    model = make_plt(n_loops=2)
    prompts = [[3, 14, 15, 92, 65], [2, 71]]
    clp = G.generate(model, prompts, 7, mode="clp", chunk_size=2)
    naive = G.generate(model, prompts, 7, mode="naive")
    assert torch.equal(clp, naive)
    for b, p in enumerate(prompts):
        assert torch.equal(clp[b], greedy_by_recompute(model, p, 7))
    s1 = G.generate(model, prompts, 7, mode="clp", temperature=1.5, generator=torch.Generator().manual_seed(1))
    s2 = G.generate(model, prompts, 7, mode="naive", temperature=1.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)


def test_sample_respects_temperature_and_top_k():
    logits = torch.tensor([[0.0, 5.0, 4.9, -3.0]])
    assert G.sample(logits).item() == 1
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([G.sample(logits, 10.0, top_k=2, generator=g) for _ in range(200)])
    assert set(draws.unique().tolist()) == {1, 2}  # hot enough to pick both, top-k forbids the rest
