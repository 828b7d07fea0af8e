"""Demo step: train the tiny PLT for a few steps on the text shards the demo just wrote, and show the loss curve.

Light at import (the demo orchestrator imports it up front); torch and tokenizers load only when the step runs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from codeflow.runner import RunSummary

DEMO_STEPS, DEMO_VOCAB = 30, 1024


def demo_train(lake: str, engine: str) -> list[RunSummary]:
    """Tokenizer into ``{lake}/tokenizer`` (if missing), then ``codeflow train --preset tiny`` on the whole lake.

    Every stage output with a ``text`` column (documents, FIM samples, commit triplets) is a source of equal
    weight. The run goes to ``{lake}/train/plt_tiny``; a previous demo run there is replaced (the demo's shards
    change between runs, so resuming it would mix two corpora). ``engine`` is not used: training is torch's.
    """
    from codeflow.lake import to_fs
    from codeflow.model.data import resolve_sources, sample_texts
    from codeflow.model.tokenizer import save_tokenizer, tokenizer_file, train_tokenizer
    from codeflow.model.train import TrainConfig, train
    from codeflow.ui import console, now

    t0 = now()
    sources = resolve_sources([lake])
    tok = f"{lake}/tokenizer"
    fs, path = to_fs(tokenizer_file(tok))
    if not fs.exists(path):
        texts, n_bytes = sample_texts(sources, max_bytes=32 << 20)
        save_tokenizer(train_tokenizer(texts, DEMO_VOCAB), tok, [s.name for s in sources], len(texts), n_bytes)
    local = "://" not in lake or lake.startswith("file://")
    out = Path(lake.removeprefix("file://"), "train", "plt_tiny") if local else Path(tempfile.mkdtemp(), "plt_tiny")
    if (out / "config.json").exists():  # a run this step made before (never a folder someone else made)
        shutil.rmtree(out)
    res = train(TrainConfig(data=[lake], tokenizer=tok, out=str(out), preset="tiny", max_steps=DEMO_STEPS,
                            batch_size=8, warmup_steps=4, eval_every=20, eval_batches=4, ckpt_every=DEMO_STEPS,
                            log_every=1, num_workers=1, lr=3e-3))
    ev = f", eval loss {res.eval_loss:.3f}" if res.eval_loss is not None else ""
    console.print(f"[bold cyan]demo:[/] tiny PLT: {res.steps} steps, {res.tokens:,} tokens, loss "
                  f"{res.final_loss:.3f}{ev}; loss curve: {res.curve}")
    docs = res.data_stats.get("docs", 0)
    return [RunSummary(stage="train (tiny PLT)", out=str(out), rows_in=docs, kept=docs,
                       rejected=res.data_stats.get("corrupt_shards", 0), shards_new=len(sources),
                       elapsed_s=now() - t0, stats=res.data_stats)]
