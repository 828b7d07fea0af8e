"""A real Spark standalone cluster on this machine: one master and N workers on the loopback interface.

Why: ``local[*]`` runs every task inside the driver's JVM, so it cannot show what only a cluster shows -
executors in other processes that reach the lake by URL, Python workers started by another JVM, the master
URL a ``spark-submit`` is pointed at. This module starts the same daemons a cluster runs
(``spark-class org.apache.spark.deploy.master.Master`` / ``...worker.Worker``) from the Spark that the
``pyspark`` wheel ships, waits until every worker has registered, and stops them all again.

    python -m codeflow.pipelines.spark.cluster --workers 2        # prints the master URL, Ctrl-C stops it

Tests use ``StandaloneCluster`` as a context manager. Nothing binds to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from codeflow.errors import CodeflowError

HOST = "127.0.0.1"


class ClusterError(CodeflowError):
    """The cluster could not be started or a master could not be reached."""


def spark_home() -> Path:
    """The Spark distribution inside the installed ``pyspark`` wheel (it ships ``bin/spark-class``)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").exists():
        raise ClusterError(f"pyspark at {home} ships no bin/spark-class; install the `spark` extra")
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def parse_master(url: str) -> tuple[str, int]:
    """``spark://host:port`` -> (host, port); a clear error for anything else."""
    if not url.startswith("spark://"):
        raise ClusterError(f"not a standalone master URL: {url!r} (expected spark://host:port)")
    host, _, port = url.removeprefix("spark://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"not a standalone master URL: {url!r} (expected spark://host:port)")
    return host, int(port)


def check_master_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Fail fast with a clear message when a ``spark://`` master does not answer.

    Without this, ``spark-submit`` against a dead master retries registration for about a minute and then
    prints a stack trace; a scheduler (Airflow) wants one line within a bounded time.
    """
    host, port = parse_master(url)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as e:
        raise ClusterError(f"Spark master {url} is not reachable within {timeout_s:.0f}s: {e}") from e


def loopback_driver_conf(master: str) -> list[str]:
    """``spark-submit`` options that keep the driver on 127.0.0.1 when the master is on this machine.

    By default the driver advertises the host's network address, and executors connect back to it there; a
    cluster on the loopback interface must stay on it.
    """
    host = master.removeprefix("spark://").rpartition(":")[0]
    if host not in ("127.0.0.1", "localhost"):
        return []
    return ["--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"]


@dataclass
class StandaloneCluster:
    """Start a master and ``workers`` workers; ``url`` is what ``spark-submit --master`` takes."""

    workers: int = 2
    cores_per_worker: int = 1
    memory_per_worker: str = "1g"
    start_timeout_s: float = 120.0
    work_dir: str | None = None
    port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _own_dir: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_MASTER_HOST": HOST,
            # executors start Python workers: they must run this interpreter (our venv), not the system one
            "PYSPARK_PYTHON": env.get("PYSPARK_PYTHON", sys.executable),
            "SPARK_NO_DAEMONIZE": "1",
        })
        return env

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        assert self.work_dir is not None
        log = open(Path(self.work_dir) / log_name, "wb")  # noqa: SIM115 - kept open for the daemon's life
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        proc = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self._procs.append(proc)
        return proc

    def alive_workers(self) -> int:
        """Workers the master reports ALIVE (its JSON status page on the loopback interface)."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.ui_port}/json/", timeout=2) as r:
                status = json.load(r)
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            return 0
        return int(status.get("aliveworkers", 0))

    def start(self) -> StandaloneCluster:
        if self.work_dir is None:
            self._own_dir = self.work_dir = tempfile.mkdtemp(prefix="codeflow-spark-")
        self._spawn(["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(self.port),
                     "--webui-port", str(self.ui_port)], "master.log")
        for i in range(self.workers):
            wdir = Path(self.work_dir) / f"worker-{i}"
            wdir.mkdir(parents=True, exist_ok=True)
            self._spawn(["org.apache.spark.deploy.worker.Worker", "--host", HOST, "--port", str(free_port()),
                         "--webui-port", str(free_port()), "--cores", str(self.cores_per_worker),
                         "--memory", self.memory_per_worker, "--work-dir", str(wdir), self.url],
                        f"worker-{i}.log")
        deadline = time.monotonic() + self.start_timeout_s
        while self.alive_workers() < self.workers:
            dead = [p for p in self._procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = self.logs_tail()
                self.stop()
                why = "a daemon exited" if dead else f"not all workers registered in {self.start_timeout_s:.0f}s"
                raise ClusterError(f"Spark standalone cluster failed to start: {why}\n{logs}")
            time.sleep(0.5)
        return self

    def logs_tail(self, n: int = 2000) -> str:
        if not self.work_dir:
            return ""
        parts = []
        for log in sorted(Path(self.work_dir).glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-n:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every daemon this object started (process groups: the JVMs and their children)."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()
        if self._own_dir:  # only the temp folder this object created itself
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = self.work_dir = None

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Run a Spark standalone cluster on 127.0.0.1 until interrupted.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cores", type=int, default=1, help="cores per worker")
    p.add_argument("--memory", default="1g", help="memory per worker")
    p.add_argument("--port", type=int, default=7077)
    args = p.parse_args(argv)
    cluster = StandaloneCluster(args.workers, args.cores, args.memory, port=args.port).start()
    print(f"master: {cluster.url}   status page: http://{HOST}:{cluster.ui_port}/   (Ctrl-C stops the cluster)")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
