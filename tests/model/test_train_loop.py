"""The trainer end to end on a small real lake: learning, exact resume, config guards, DDP on gloo, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import make_texts, write_stage

from codeflow.model.tokenizer import save_tokenizer, train_tokenizer
from codeflow.model.train import TrainConfig, TrainError, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    """Two text stages and a tokenizer beside them, as `codeflow tokenizer train` leaves a lake."""
    root = tmp_path_factory.mktemp("lake")
    texts = make_texts(160, seed=11, max_words=30)
    write_stage(str(root / "documents" / "a"), texts[:100], n_shards=3)
    write_stage(str(root / "fim" / "b"), texts[100:], n_shards=2)
    save_tokenizer(train_tokenizer(texts, 320), str(root / "tokenizer"), ["test"], len(texts), 0)
    return str(root)


def cfg(lake: str, out: Path, **kw) -> TrainConfig:
    base = dict(data=[lake], out=str(out), preset="tiny", seq_len=32, batch_size=4, max_steps=12, warmup_steps=2,
                eval_every=6, eval_batches=2, ckpt_every=4, log_every=1, num_workers=0, quiet=True, lr=3e-3)
    base.update(kw)
    return TrainConfig(**base)


def losses(out: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


def test_tiny_training_lowers_the_loss(lake, tmp_path):
    torch.set_num_threads(1)
    res = train(cfg(lake, tmp_path / "run", max_steps=50, eval_every=25, ckpt_every=50, lr=1e-2))
    trace = [loss for _, loss in losses(tmp_path / "run")]
    assert len(trace) == 50 and res.steps == 50
    first, last = sum(trace[:5]) / 5, sum(trace[-5:]) / 5
    assert last < first - 1.5, (first, last)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "loss", "lr", "tokens", "tokens_per_s", "data_s"} <= set(rows[0])
    assert rows[-1]["tokens"] == 50 * 4 * 32
    assert rows[-1]["eval_loss"] < rows[24]["eval_loss"]
    assert Path(res.curve).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "run" / "loss_curve.svg").read_text().count("<polyline") == 2
    conf = json.loads((tmp_path / "run" / "config.json").read_text())
    assert conf["model"]["vocab_size"] == 320 or conf["model"]["vocab_size"] <= 320
    assert conf["eval_files"] and conf["eval_files"][0].endswith("part-00002.parquet")


def test_interrupted_then_resumed_matches_uninterrupted(lake, tmp_path):
    torch.set_num_threads(1)
    train(cfg(lake, tmp_path / "full"))
    # killed after logging step 6 but before its checkpoint: the newest checkpoint is step 4
    train(cfg(lake, tmp_path / "cut", stop_after=6))
    (tmp_path / "cut" / "checkpoints" / "step-000006.pt").unlink()
    assert [s for s, _ in losses(tmp_path / "cut")] == [1, 2, 3, 4, 5, 6]
    with (tmp_path / "cut" / "metrics.jsonl").open("a") as f:
        f.write('{"step": 7, "lo')  # the kill cut a line short
    res = train(cfg(lake, tmp_path / "cut", resume=True))
    full, cut = losses(tmp_path / "full"), losses(tmp_path / "cut")
    assert [s for s, _ in cut] == list(range(1, 13))  # steps 5-6 were dropped and logged again, once
    assert [s for s, _ in full] == list(range(1, 13))
    assert [x for _, x in cut] == pytest.approx([x for _, x in full], rel=1e-5, abs=1e-6)
    assert res.eval_loss is not None


def test_resume_refuses_a_checkpoint_of_another_config(lake, tmp_path):
    train(cfg(lake, tmp_path / "run", max_steps=4))
    with pytest.raises(TrainError, match="n_loops"):
        train(cfg(lake, tmp_path / "run", max_steps=8, loops=1, resume=True))
    with pytest.raises(TrainError, match="batch_size"):
        train(cfg(lake, tmp_path / "run", max_steps=8, batch_size=2, resume=True))
    with pytest.raises(TrainError, match="--resume"):
        train(cfg(lake, tmp_path / "run", max_steps=8))
    (tmp_path / "run" / "checkpoints" / "step-000099.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainError, match="not a readable training checkpoint"):
        train(cfg(lake, tmp_path / "run", max_steps=8, resume=True))


def test_cli_errors_are_one_line(tmp_path, cli, lake):
    (tmp_path / "empty").mkdir()
    code, out = cli("train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r"))
    assert code == 2 and out.startswith("error:") and "no input files" in out and out.count("\n") == 1
    code, out = cli("train", "--data", lake, "--out", str(tmp_path / "r"), "--preset", "huge")
    assert code == 2 and "huge" in out
    conf = tmp_path / "c.toml"
    conf.write_text("[train]\nbatch_size = 2\nnot_an_option = 1\n")
    code, out = cli("train", "--config", str(conf), "--data", lake, "--out", str(tmp_path / "r"))
    assert code == 2 and "not_an_option" in out


def test_config_file_then_cli_overrides(tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"batch_size": 2, "max_steps": 7, "data": "lake/x"}))
    c = TrainConfig.build(str(conf), max_steps=9, lr=None, data=())
    assert (c.batch_size, c.max_steps, c.data, c.lr) == (2, 9, ["lake/x"], TrainConfig.lr)


def free_port() -> int:
    """A port nobody listens on now (the machine is shared; a fixed rendezvous port could collide)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(300)
def test_ddp_two_gloo_processes(lake, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           str(REPO / "model" / "train.py"), "--data", lake, "--out", str(out), "--preset", "tiny",
           "--seq-len", "32", "--batch-size", "2", "--max-steps", "3", "--ckpt-every", "3", "--eval-every", "3",
           "--eval-batches", "1", "--num-workers", "0", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[-1]["tokens"] == 3 * 2 * 32 * 2  # both ranks' tokens count
    ck = torch.load(out / "checkpoints" / "step-000003.pt", weights_only=True)
    assert ck["identity"]["world_size"] == 2 and len(ck["data"]) == 2
    # the ranks read disjoint files of each 2+-shard source (3 shards minus the eval hold-out = 2, and 2)
    conf = json.loads((out / "config.json").read_text())
    assert conf["world_size"] == 2
    r0, r1 = ck["data"]
    assert r0["next_doc"] > 0 and r1["next_doc"] > 0
    assert r0["buf_ids"] != r1["buf_ids"] or r0["cursors"] != r1["cursors"]
