"""Train the PLT on the lake: ``python model/train.py --data <lake or stage folder> --preset tiny --out runs/x``.

Also ``codeflow train`` (same options; ``codeflow train --help``). Under ``torchrun`` every process is one
data-parallel rank (DDP; NCCL on GPUs, gloo on CPUs) reading its own disjoint slice of the shards.

The run directory holds everything a resumed or audited run needs::

    config.json          the resolved TrainConfig, model config, sources and tokenizer
    metrics.jsonl        one line per logged step: step, loss, lr, tokens, tokens_per_s, data_s (+ eval_loss)
    loss_curve.png/.svg  drawn from metrics.jsonl at every checkpoint and at the end
    checkpoints/step-000100.pt   model, optimizer, scheduler, RNG and every rank's data position
    tokenizer/           when the tokenizer was trained for this run (none found beside the data)

Resume is exact: the data loaders restart at the next token (``data.PackedLoader.state_dict``), the optimizer and
schedule continue, so an interrupted run followed by ``--resume`` logs the same losses as an uninterrupted one.
A checkpoint written with another model or data config is refused with the differing fields.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pickle
import random
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from codeflow.errors import CodeflowError
from codeflow.lake import atomic_write_bytes, atomic_write_json, to_fs
from codeflow.model.curve import write_curves
from codeflow.model.data import PackedLoader, Source, resolve_sources, split_holdout
from codeflow.model.plt.config import PLTConfig
from codeflow.model.plt.model import PLT
from codeflow.model.tokenizer import EOS, MIN_VOCAB, json_sha256, load_tokenizer_json, tokenizer_file

log = logging.getLogger("codeflow.train")
CKPT_FORMAT = 1


class TrainError(CodeflowError):
    """A run that cannot start as asked (config conflicts with a checkpoint, bad option): one line for the user."""


@dataclass
class TrainConfig:
    """Everything a run is; ``config.json`` in the run dir is this plus what was resolved from it."""

    data: list[str] = field(default_factory=list)  # URL[:weight], stage folders or lake roots
    eval_data: list[str] = field(default_factory=list)  # default: the last shard of the first multi-shard source
    out: str = "runs/plt"
    tokenizer: str = ""  # folder or tokenizer.json; default: {data}/tokenizer, {data}/../../tokenizer, else train
    vocab_size: int = 0  # for a tokenizer trained by this run; 0 = preset's (at least MIN_VOCAB)
    preset: str = "tiny"
    loops: int = 0  # R; 0 = the preset's
    attn_backend: str = ""  # "" = the model config's default
    seq_len: int = 0  # 0 = the preset's max_seq_len
    batch_size: int = 8  # sequences per rank per micro-step
    grad_accum: int = 1
    max_steps: int = 100
    stop_after: int = 0  # stop this invocation after N steps (the schedule still runs to max_steps); 0 = no
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 10
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batches: int = 8
    ckpt_every: int = 50
    log_every: int = 1
    seed: int = 0
    num_workers: int = 1  # tokenizer processes per rank; 0 = tokenize in the training process
    dtype: str = "auto"  # auto (bf16 autocast on a bf16 GPU, else fp32) | bf16 | fp32
    device: str = "auto"
    resume: bool = False
    quiet: bool = False

    @classmethod
    def from_file(cls, path: str) -> dict[str, Any]:
        """Options from a ``.json`` or ``.toml`` file (a ``[train]`` table or top level)."""
        p = Path(path)
        if not p.exists():
            raise TrainError(f"config file not found: {path}")
        raw = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
        raw = raw.get("train", raw)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise TrainError(f"{path}: unknown option(s) {', '.join(unknown)}")
        return raw

    @classmethod
    def build(cls, file: str | None = None, **overrides: Any) -> TrainConfig:
        """Dataclass defaults < config file < overrides that are not None."""
        values: dict[str, Any] = cls.from_file(file) if file else {}
        values.update({k: v for k, v in overrides.items() if v is not None and v != ()})
        for k in ("data", "eval_data"):
            if isinstance(values.get(k), str):
                values[k] = [values[k]]
            if k in values:
                values[k] = list(values[k])
        return cls(**values)


# ---- distributed / device -----------------------------------------------------------------------------------------

@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_dist(device: str) -> tuple[Dist, torch.device]:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; one process without them is a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    d = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        dev = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return d, dev


def all_sum(values: list[float], d: Dist, dev: torch.device) -> list[float]:
    if d.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return t.tolist()


# ---- pieces -------------------------------------------------------------------------------------------------------

def lr_at(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` before optimizer step ``step`` (0-based): linear warmup, cosine to min_lr_ratio."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    prog = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * prog))


def find_tokenizer(cfg: TrainConfig) -> str | None:
    """``cfg.tokenizer``, else a ``tokenizer/`` folder in or beside the data (``codeflow tokenizer train``)."""
    if cfg.tokenizer:
        return cfg.tokenizer
    for spec in cfg.data:
        url = spec.rsplit(":", 1)[0] if spec.rsplit(":", 1)[-1].replace(".", "").isdigit() else spec
        base = url.rstrip("/")
        for cand in (base, base.rsplit("/", 1)[0], base.rsplit("/", 2)[0]):
            fs, path = to_fs(tokenizer_file(cand + "/tokenizer"))
            if fs.exists(path):
                return cand + "/tokenizer"
    return None


def ensure_tokenizer(cfg: TrainConfig, sources: list[Source], preset: PLTConfig, d: Dist) -> str:
    """The tokenizer URL to use; trains one into ``{out}/tokenizer`` (rank 0, others wait) if none is found."""
    found = find_tokenizer(cfg)
    if found:
        return found
    out = str(Path(cfg.out) / "tokenizer")
    if d.main and not Path(out, "tokenizer.json").exists():
        from codeflow.model.data import sample_texts
        from codeflow.model.tokenizer import save_tokenizer, train_tokenizer

        vocab = cfg.vocab_size or max(MIN_VOCAB, min(preset.vocab_size, 32768) if preset.vocab_size > 512 else 512)
        texts, n_bytes = sample_texts(sources, max_bytes=64 << 20, seed=cfg.seed)
        log.warning("no tokenizer beside the data: training a %d-token BPE on %d documents into %s",
                    vocab, len(texts), out)
        save_tokenizer(train_tokenizer(texts, vocab), out, [s.name for s in sources], len(texts), n_bytes)
    if d.world > 1:
        dist.barrier()
    return out


def model_config(cfg: TrainConfig, vocab_size: int) -> PLTConfig:
    try:
        base = PLTConfig.from_preset(cfg.preset)
    except KeyError as e:
        raise TrainError(str(e.args[0])) from None
    seq = cfg.seq_len or base.max_seq_len
    over: dict[str, Any] = {"vocab_size": vocab_size, "max_seq_len": max(seq, base.max_seq_len)}
    if cfg.loops:
        over["n_loops"] = cfg.loops
    if cfg.attn_backend:
        if "attn_backend" not in {f.name for f in fields(PLTConfig)}:
            raise TrainError("--attn-backend: this model version has no attention backend choice")
        from codeflow.model.plt.attention import BACKENDS

        if cfg.attn_backend not in BACKENDS:
            raise TrainError(f"--attn-backend {cfg.attn_backend!r}: have {', '.join(sorted(BACKENDS))}")
        over["attn_backend"] = cfg.attn_backend
    try:
        return base.replace(**over)
    except ValueError as e:
        raise TrainError(f"model config: {e}") from None


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices (linear and embedding weights) only; norms, biases and gate biases are free."""
    decay, free = [], []
    seen: set[int] = set()
    for p in model.parameters():
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else free).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": free, "weight_decay": 0.0}]


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def identity(cfg: TrainConfig, mcfg: PLTConfig, sources: list[Source], tok_sha: str, world: int) -> dict:
    """What must match for a checkpoint to resume: the model, the data order and the batch shape."""
    return {"model": mcfg.to_dict(), "seq_len": cfg.seq_len, "batch_size": cfg.batch_size,
            "grad_accum": cfg.grad_accum, "world_size": world, "seed": cfg.seed, "tokenizer_sha256": tok_sha,
            "sources": [{"name": s.name, "weight": s.weight, "files": s.files} for s in sources]}


def _short(v: Any) -> Any:
    return f"[{len(v)} items]" if isinstance(v, list) and len(str(v)) > 60 else v


def diff_identity(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff_identity(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: checkpoint {_short(va)} != now {_short(vb)}")
    return out


def checkpoints(out: Path) -> list[Path]:
    folder = out / "checkpoints"
    return sorted(folder.glob("step-*.pt")) if folder.exists() else []


def save_checkpoint(path: Path, payload: dict) -> None:
    import io

    buf = io.BytesIO()
    torch.save(payload, buf)
    fs, p = to_fs(str(path))
    atomic_write_bytes(fs, p, buf.getvalue())


def truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after ``step`` (a killed run may have logged past its last checkpoint)."""
    if not path.exists():
        return
    keep = []
    for ln in path.read_text().splitlines():
        try:
            row = json.loads(ln)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if row["step"] <= step:
            keep.append(ln)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(ln + "\n" for ln in keep))
    tmp.replace(path)


class Progress:
    """A rich progress bar with loss and tokens/s on a terminal; a plain line per log step otherwise."""

    def __init__(self, total: int, start: int, enabled: bool):
        self.enabled, self.bar, self.total = enabled, None, total
        self.every = max(1, total // 10)  # plain lines (logs, CI): about ten per run
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            from codeflow.ui import console

            self.bar = RichProgress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console)
            self.task = self.bar.add_task("train", total=total, completed=start, info="")
            self.bar.start()

    def update(self, step: int, info: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=info)
        elif self.enabled and (step % self.every == 0 or step == self.total):
            print(f"step {step}/{self.total}: {info}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class TrainResult:
    out: str
    steps: int
    tokens: int
    final_loss: float
    eval_loss: float | None
    metrics: str
    curve: str
    data_stats: dict


# ---- the loop -----------------------------------------------------------------------------------------------------

def evaluate(model: torch.nn.Module, loader_args: dict, n_batches: int, dev: torch.device, autocast, d: Dist) -> float:
    """Mean token loss over the first ``n_batches`` batches of the held-out shard(s) (all ranks together)."""
    total, count = 0.0, 0.0
    model.eval()
    with PackedLoader(**loader_args) as loader, torch.no_grad():
        for i, b in enumerate(loader):
            if i >= n_batches:
                break
            targets = torch.from_numpy(b["targets"]).to(dev)
            with autocast():
                _, loss = model(torch.from_numpy(b["idx"]).to(dev), targets, torch.from_numpy(b["doc_ids"]).to(dev))
            n = float((targets >= 0).sum())
            if n == 0:  # a padding-only row block: its mean loss is NaN
                continue
            total += float(loss) * n
            count += n
    model.train()
    total, count = all_sum([total, count], d, dev)
    return total / count if count else float("nan")


def train(cfg: TrainConfig) -> TrainResult:
    """Run (or resume) training as configured; returns where the results are."""
    if not cfg.data:
        raise TrainError("no --data given (a lake root or stage folder with a 'text' column)")
    if cfg.dtype not in ("auto", "bf16", "fp32"):
        raise TrainError(f"--dtype must be auto, bf16 or fp32, not {cfg.dtype!r}")
    d, dev = setup_dist(cfg.device)
    out = Path(cfg.out)
    sources = resolve_sources(cfg.data)
    if cfg.eval_data:
        eval_files = [f for s in resolve_sources(cfg.eval_data) for f in s.files]
    else:
        sources, eval_files = split_holdout(sources)
    preset = model_config(cfg, MIN_VOCAB)
    if not cfg.seq_len:
        cfg.seq_len = preset.max_seq_len
    if out.exists() and checkpoints(out) and not cfg.resume:
        raise TrainError(f"{out} already has checkpoints: pass --resume to continue, or choose another --out")
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    tok_url = ensure_tokenizer(cfg, sources, preset, d)
    tok_json = load_tokenizer_json(tok_url)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tok_json)
    eos = tok.token_to_id(EOS)
    mcfg = model_config(cfg, tok.get_vocab_size())
    ident = identity(cfg, mcfg, sources, json_sha256(tok_json), d.world)

    torch.manual_seed(cfg.seed)
    model = PLT(mcfg).to(dev)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                            fused=dev.type == "cuda")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg))
    loader = PackedLoader(sources, tok_json, eos, cfg.seq_len, cfg.batch_size, rank=d.rank, world=d.world,
                          seed=cfg.seed, num_workers=cfg.num_workers)
    step, tokens_done = 0, 0
    ckpts = checkpoints(out) if cfg.resume else []
    if ckpts:
        try:  # weights_only: a checkpoint is tensors and plain data, never pickled code
            ck = torch.load(ckpts[-1], map_location=dev, weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError) as e:
            raise TrainError(f"{ckpts[-1]}: not a readable training checkpoint ({e.__class__.__name__})") from None
        if not isinstance(ck, dict) or ck.get("format") != CKPT_FORMAT:
            raise TrainError(f"{ckpts[-1]}: not a codeflow training checkpoint")
        diffs = diff_identity(ck["identity"], ident)
        if diffs:
            raise TrainError(f"{ckpts[-1]} is from another config: " + "; ".join(diffs[:6]))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        set_rng_state(ck["rng"])
        loader.load_state_dict(ck["data"][d.rank])
        step, tokens_done = ck["step"], ck["tokens"]
        if d.main:
            truncate_metrics(out / "metrics.jsonl", step)
            log.warning("resumed from %s at step %d; data: %s", ckpts[-1], step, loader.position())
    elif d.main:
        (out / "metrics.jsonl").unlink(missing_ok=True)
    loader.start()
    if d.main:
        atomic_write_json(*to_fs(str(out / "config.json")),
                          {"train": asdict(cfg), "model": mcfg.to_dict(), "tokenizer": tok_url,
                           "sources": [s.to_dict() for s in sources], "eval_files": eval_files,
                           "world_size": d.world, "params": model.num_params()})

    # R = 1 never calls the loop gates: DDP must be told some parameters get no gradient
    ddp = DDP(model, find_unused_parameters=mcfg.n_loops == 1) if d.world > 1 else model
    use_bf16 = cfg.dtype == "bf16" or (cfg.dtype == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported())

    def autocast():
        return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16)

    eval_args = dict(sources=[Source("eval", eval_files, 1.0)], tokenizer_json=tok_json, eos_id=eos,
                     seq_len=cfg.seq_len, batch_size=cfg.batch_size, rank=d.rank, world=d.world, seed=cfg.seed,
                     epochs=1, shuffle=False) if eval_files else None
    if eval_files is None or not eval_files:
        log.info("no held-out shard (need --eval-data or a source with 2+ shards): no eval loss")

    tokens_per_step = cfg.batch_size * cfg.seq_len * cfg.grad_accum * d.world
    progress = Progress(cfg.max_steps, step, d.main and not cfg.quiet)
    metrics = (out / "metrics.jsonl").open("a") if d.main else None
    last_loss, last_eval = float("nan"), None
    t_log, data_log, steps_log, cpu_log = time.perf_counter(), 0.0, 0, time.process_time()
    stop_at = min(cfg.max_steps, step + cfg.stop_after) if cfg.stop_after else cfg.max_steps
    try:
        while step < stop_at:
            loss_sum, data_s = 0.0, 0.0
            for micro in range(cfg.grad_accum):
                t0 = time.perf_counter()
                b = loader.next_batch()
                data_s += time.perf_counter() - t0
                idx, targets, docs = (torch.from_numpy(b[k]).to(dev, non_blocking=True)
                                      for k in ("idx", "targets", "doc_ids"))
                sync = micro == cfg.grad_accum - 1 or d.world == 1
                ctx = ddp.no_sync() if not sync else contextlib.nullcontext()
                with ctx:
                    with autocast():
                        _, loss = ddp(idx, targets, docs)
                    (loss / cfg.grad_accum).backward()
                loss_sum += loss.detach().float().item() / cfg.grad_accum
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            tokens_done += tokens_per_step
            (loss_avg,) = all_sum([loss_sum], d, dev)
            last_loss = loss_avg / d.world
            data_log += data_s
            steps_log += 1
            row: dict[str, Any] | None = None
            if step % cfg.log_every == 0 or step == stop_at:
                now, cpu = time.perf_counter(), time.process_time()
                elapsed = now - t_log
                # cpu_s: this process's CPU time (all torch threads), which a loaded shared machine does not inflate
                row = {"step": step, "loss": round(last_loss, 6), "lr": lr, "tokens": tokens_done,
                       "tokens_per_s": round(tokens_per_step * steps_log / elapsed, 1),
                       "data_s": round(data_log, 6), "step_s": round(elapsed, 6), "cpu_s": round(cpu - cpu_log, 6),
                       "grad_norm": round(float(gnorm), 6)}
                t_log, data_log, steps_log, cpu_log = now, 0.0, 0, cpu
            if eval_args and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                last_eval = evaluate(model, eval_args, cfg.eval_batches, dev, autocast, d)
                row = row or {"step": step, "loss": round(last_loss, 6), "lr": lr, "tokens": tokens_done}
                row["eval_loss"] = round(last_eval, 6)
                t_log, cpu_log = time.perf_counter(), time.process_time()  # eval is not training throughput
            if row is not None and metrics is not None:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                info = f"loss {last_loss:.4f}" + (f" eval {last_eval:.4f}" if last_eval is not None else "")
                progress.update(step, info + f"  {row.get('tokens_per_s', 0):,.0f} tok/s")
            if step % cfg.ckpt_every == 0 or step == stop_at:
                states = [loader.state_dict()]
                if d.world > 1:
                    gathered: list[Any] = [None] * d.world
                    dist.all_gather_object(gathered, states[0])
                    states = gathered
                if d.main:
                    save_checkpoint(out / "checkpoints" / f"step-{step:06d}.pt",
                                    {"format": CKPT_FORMAT, "identity": ident, "step": step, "tokens": tokens_done,
                                     "model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "scheduler": sched.state_dict(), "rng": rng_state(), "data": states})
                    write_curves(out / "metrics.jsonl", out, f"{cfg.preset} R={mcfg.n_loops}")
    finally:
        progress.close()
        loader.close()
        if metrics is not None:
            metrics.close()
    curve = out / "loss_curve.png"
    stats = loader.stats
    if d.world > 1:
        dist.barrier()
    return TrainResult(out=str(out), steps=step, tokens=tokens_done, final_loss=last_loss, eval_loss=last_eval,
                       metrics=str(out / "metrics.jsonl"), curve=str(curve), data_stats=dict(stats))


if __name__ == "__main__":
    from codeflow.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
