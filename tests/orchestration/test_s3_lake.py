"""The lake on an object store: stages read and write ``s3://`` through fsspec/s3fs against a real
S3-compatible server (moto's server mode) on 127.0.0.1.

Object stores have no atomic rename, so this checks what the lake relies on instead: the per-shard commit
marker written last gives exactly-once shards, a run killed mid-write resumes to the same bytes as an
uninterrupted run, and other processes' writes are seen (no stale directory listings).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from codeflow.pipelines.spark.cluster import free_port  # noqa: E402
from tests.foundation.helpers import write_corpus  # noqa: E402

pytestmark = pytest.mark.timeout(600)
CREDS = {"AWS_ACCESS_KEY_ID": "codeflow-test", "AWS_SECRET_ACCESS_KEY": "codeflow-test",
         "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on the loopback interface; the env points botocore and fsspec at it."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**CREDS, "AWS_ENDPOINT_URL": endpoint, "FSSPEC_S3_ENDPOINT_URL": endpoint}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import fsspec.config

    fsspec.config.set_conf_env(fsspec.config.conf)
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint)
    fs.mkdir("codeflow-lake")
    src = tmp_path_factory.mktemp("s3src")
    write_corpus(src, n_files=5, per_file=40, dup_rate=0.3, seed=21)
    for p in sorted(src.iterdir()):
        fs.put(str(p), f"codeflow-lake/in/{p.name}")
    yield {"fs": fs, "env": {**os.environ}, "src": src}
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    fsspec.config.conf.pop("s3", None)


def run(s3, *args: str) -> tuple[int, str]:
    """The CLI in a fresh process with the S3 env: engine workers (forked from a long-lived forkserver in an
    in-process run) would not see variables this test process set after it started."""
    proc = subprocess.run([sys.executable, "-m", "codeflow.cli", "--quiet", *args], env=s3["env"],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def s3_shards(fs, root: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {p[len(root) + 1:]: fs.cat_file(p) for p in sorted(fs.find(root))
            if p.endswith(".parquet") and "/_work/" not in p}


def local_shards(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))
            if "_work" not in p.parts}


def test_dedup_on_s3_matches_local(s3, tmp_path: Path) -> None:
    """Same input, output on S3 or on disk: the same bytes. Input read from S3: the same decisions (row ids
    differ by design: an id-less row's id carries its file URL, see records.py)."""
    src = str(s3["src"])
    code, output = run(s3, "dedup", "--exact", "--input", src, "--out", str(tmp_path / "local"))
    assert code == 0, output
    code, output = run(s3, "dedup", "--exact", "--input", src, "--out", "s3://codeflow-lake/lake/exact",
                       "--workers", "2")
    assert code == 0, output
    fs = s3["fs"]
    assert fs.exists("codeflow-lake/lake/exact/_SUCCESS")
    assert s3_shards(fs, "codeflow-lake/lake/exact") == local_shards(tmp_path / "local")
    code, output = run(s3, "dedup", "--exact", "--input", "s3://codeflow-lake/in",
                       "--out", "s3://codeflow-lake/lake/exact_from_s3", "--workers", "2")
    assert code == 0, output
    fs.invalidate_cache()
    on_s3 = json.loads(fs.cat_file("codeflow-lake/lake/exact_from_s3/_stats.json"))
    on_disk = json.loads((tmp_path / "local" / "_stats.json").read_text())
    assert {k: on_s3[k] for k in ("rows_in", "kept", "rejected")} == {k: on_disk[k] for k in
                                                                      ("rows_in", "kept", "rejected")}
    code, output = run(s3, "dedup", "--minhash", "--input", "s3://codeflow-lake/lake/exact",
                       "--out", "s3://codeflow-lake/lake/minhash", "--workers", "2")
    assert code == 0, output
    code, output = run(s3, "dedup", "--minhash", "--input", str(tmp_path / "local"),
                       "--out", str(tmp_path / "local_mh"))
    assert code == 0, output
    assert s3_shards(fs, "codeflow-lake/lake/minhash") == local_shards(tmp_path / "local_mh")


def test_killed_run_on_s3_resumes_to_same_bytes(s3, tmp_path: Path) -> None:
    code, output = run(s3, "dedup", "--exact", "--input", "s3://codeflow-lake/in",
                       "--out", "s3://codeflow-lake/lake/ref")
    assert code == 0, output
    fs = s3["fs"]
    out = "s3://codeflow-lake/lake/killed"
    cmd = [sys.executable, "-m", "codeflow.cli", "--quiet", "dedup", "--exact", "--input", "s3://codeflow-lake/in",
           "--out", out]
    proc = subprocess.Popen(cmd, env=s3["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while True:
        fs.invalidate_cache()
        if fs.exists("codeflow-lake/lake/killed/_committed") and fs.ls("codeflow-lake/lake/killed/_committed"):
            break
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    fs.invalidate_cache()
    assert not fs.exists("codeflow-lake/lake/killed/_SUCCESS")
    code, output = run(s3, "dedup", "--exact", "--input", "s3://codeflow-lake/in", "--out", out)
    assert code == 0, output
    assert s3_shards(fs, "codeflow-lake/lake/killed") == s3_shards(fs, "codeflow-lake/lake/ref")
    fs.invalidate_cache()
    leftovers = [p for p in fs.find("codeflow-lake/lake/killed") if "/.tmp-" in p]
    assert leftovers == []


def test_bad_credentials_are_a_clear_error(tmp_path: Path) -> None:
    """A server that checks keys (moto with auth on) refuses unknown ones: one line, no traceback."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answered (refusing us): it is up
            except OSError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.3)
        run_env = {**os.environ, **CREDS, "AWS_ACCESS_KEY_ID": "wrong", "AWS_ENDPOINT_URL": endpoint,
                   "FSSPEC_S3_ENDPOINT_URL": endpoint}
        proc = subprocess.run([sys.executable, "-m", "codeflow.cli", "dedup", "--exact", "--input",
                               "s3://nobucket/in", "--out", str(tmp_path / "o")], env=run_env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and "error: permission denied" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    finally:
        server.terminate()
        server.wait()
