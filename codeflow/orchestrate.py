"""What a scheduler needs to run the corpus build: the stage chains, their lake folders, and one call per stage.

Airflow DAGs (``airflow_dags/``) are thin: every task calls ``run_stage`` here, which calls the stage's Python
entry point (``codeflow.cli.main``, the same code path as the command line, so the task log shows the stage's
summary table) on the local engine, or ``spark-submit`` with ``pipelines/spark/submit.py`` against a standalone
master. Nothing here imports Airflow, so the chains are tested without a scheduler too.

Why retries are safe: every stage commits one shard per unit with a marker written last and skips committed
units on a re-run, so a task retried after a crash (worker killed, node lost) resumes into the same run folder
and ends with the same bytes as an uninterrupted run. A run folder is keyed by the DAG run's logical date.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from codeflow.errors import CodeflowError
from codeflow.lake import to_fs

log = logging.getLogger(__name__)

# Commands that take --engine/--workers; others (train) run as they are.
ENGINE_COMMANDS = {"clean-cc", "dedup", "code", "fim", "build-triplets", "classify", "decontaminate", "ingest"}


class StageFailed(CodeflowError):
    """A stage exited non-zero; its own one-line error is in the message (and in the task log above it).

    ``retryable`` is False when the stage reported a user or input error (exit 2): retrying cannot help, so a
    scheduler should fail the task at once. Units that failed on I/O (exit 1), a lost executor or a crash may
    be transient and are worth a retry, which resumes from the committed shards.
    """

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StageUnavailable(CodeflowError):
    """The stage's command is not part of this codeflow version (or needs an input that was not given)."""


def available(command: str) -> bool:
    """Whether ``codeflow <command>`` exists in the installed version (DAGs land before some stages)."""
    from codeflow.cli import COMMANDS

    return command in COMMANDS


def run_key(logical_date) -> str:
    """Folder name of one DAG run: its logical date, with no characters object stores or shells dislike."""
    return logical_date.strftime("%Y%m%dT%H%M%SZ")


def stage_url(lake: str, stage: str, key: str) -> str:
    return f"{lake.rstrip('/')}/{stage}/{key}"


def is_complete(url: str) -> bool:
    fs, path = to_fs(url)
    return fs.exists(f"{path.rstrip('/')}/_SUCCESS")


@dataclass(frozen=True)
class Step:
    """One stage of a chain: task id, the CLI words before ``--out``, and where it writes."""

    task_id: str
    argv: tuple[str, ...]
    out: str
    skip_reason: str | None = None  # set when the stage cannot run in this version / with these params

    @property
    def command(self) -> str:
        return self.argv[0]


@dataclass(frozen=True)
class Params:
    """The DAG params every task reads (all JSON-serialisable, so they come straight from ``params``)."""

    lake: str
    warcs: Sequence[str] = ()
    repos: str = ""
    engine: str = "local"
    workers: int = 2
    spark_master: str = ""
    classify_models: Sequence[str] = ()
    classify_keep: Sequence[str] = ()
    benchmarks: str = ""
    train_steps: int = 20
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> Params:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(**{k: v for k, v in d.items() if k in known},
                   extra={k: v for k, v in d.items() if k not in known})


def _chain(steps: list[Step]) -> list[Step]:
    """Mark steps whose command is missing as skipped (the DAG shows them and skips them)."""
    return [s if s.skip_reason or available(s.command) else
            Step(s.task_id, s.argv, s.out, f"`codeflow {s.command}` is not in this codeflow version")
            for s in steps]


def web_chain(p: Params, key: str) -> list[Step]:
    """clean-cc -> exact -> MinHash -> classify -> decontaminate; each reads the last stage that runs before it."""
    url = lambda stage: stage_url(p.lake, stage, key)  # noqa: E731
    steps = [Step("clean_cc", ("clean-cc", *[w for path in p.warcs for w in ("--warc", path)]), url("clean_cc"))]
    prev = f"{steps[0].out}/documents"
    plan = [("dedup_exact", ("dedup", "--exact"), None), ("dedup_minhash", ("dedup", "--minhash"), None)]
    models = [w for m in p.classify_models for w in ("--model", m)]
    keep = [w for k in p.classify_keep for w in ("--keep", k)]
    plan.append(("classify", ("classify", *models, *keep),
                 None if models else "no classifier model given (param classify_models)"))
    bench = ("--benchmarks", p.benchmarks) if p.benchmarks else ()
    plan.append(("decontaminate", ("decontaminate", *bench), None))
    for task_id, words, skip in plan:
        step = _chain([Step(task_id, (*words, "--input", prev), url(task_id), skip)])[0]
        steps.append(step)
        if step.skip_reason is None:
            prev = step.out
    return steps


def repos_chain(p: Params, key: str) -> list[Step]:
    """code -> fim file / fim repo (from the code shards: one shard per repository), and build-triplets."""
    url = lambda stage: stage_url(p.lake, stage, key)  # noqa: E731
    code = Step("code", ("code", "--repos", p.repos), url("code"))
    return _chain([code,
                   Step("fim_file", ("fim", "--level", "file", "--input", code.out), url("fim_file")),
                   Step("fim_repo", ("fim", "--level", "repo", "--input", code.out), url("fim_repo")),
                   Step("triplets", ("build-triplets", "--repos", p.repos), url("triplets"))])


def train_step(p: Params, key: str, data: Sequence[str]) -> Step:
    """The PLT trainer over the shards of the repository branch (``model/train.py`` as ``codeflow train``)."""
    # --resume: a retried (or re-run) task continues from the run folder's newest checkpoint, like the stages
    argv = ("train", *[w for d in data for w in ("--data", d)], "--preset", "tiny", "--max-steps", str(p.train_steps),
            "--resume")
    skip = None if data else "no complete shards to train on"
    return _chain([Step("train", argv, stage_url(p.lake, "train", key), skip)])[0]


def default_warcs() -> list[str]:
    from codeflow.demo.data import sample_path

    return [sample_path("warc", "python-docs.warc.gz")]


def default_repo_list(folder: str) -> str:
    """A repo list with the bundled sample repository and the demo's generated repository (a history to mine
    triplets from): what ``dags test`` runs on when no list is given."""
    from codeflow.demo.data import bundled_sample_repo
    from codeflow.demo.repos import build_demo_repo

    os.makedirs(folder, exist_ok=True)
    calc = build_demo_repo(os.path.join(folder, "calc.git"))  # reused when it exists
    path = os.path.join(folder, "sample_repos.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{bundled_sample_repo()}\tcodeflow/sample\n{calc}\tcalc (generated)\n")
    return path


def has_rows(url: str) -> bool:
    """A complete stage output that kept at least one record (training on an empty source is an error)."""
    if not is_complete(url):
        return False
    fs, path = to_fs(url)
    with fs.open(f"{path.rstrip('/')}/_stats.json", "rb") as f:
        return json.load(f).get("kept", 0) > 0


def run_stage(step: Step, p: Params) -> list[str]:
    """Run one step into ``step.out``; returns the HTML reports it wrote (for the task log).

    Raises ``StageUnavailable`` when the step is to be skipped and ``StageFailed`` when the stage exits
    non-zero. A step whose output is already complete is a no-op resume inside the stage itself, not a
    special case here. Exit 1 (units failed on I/O, left uncommitted) is worth a retry; exit 2 (bad input or
    options) is not.
    """
    if step.skip_reason:
        raise StageUnavailable(f"{step.task_id}: skipped, {step.skip_reason}")
    from codeflow.engines import Engine, engine_class

    argv = ["--quiet", *step.argv, "--out", step.out]
    engine: type[Engine] = Engine  # commands without --engine (train) run in this process
    if step.command in ENGINE_COMMANDS:
        argv += ["--engine", p.engine, "--workers", str(p.workers)]
        engine = engine_class(p.engine)
    code, why = engine.run_command(argv, p.spark_master)
    if code != 0:
        raise StageFailed(f"{step.task_id}: `codeflow {' '.join(step.argv[:2])}` on {p.engine} exited {code}: {why}",
                          retryable=code != 2)
    return reports(step.out)


def reports(url: str) -> list[str]:
    """HTML reports in a stage's output folder and one level below (clean-cc writes documents/ code_blocks/)."""
    fs, path = to_fs(url)
    found = fs.glob(f"{path.rstrip('/')}/*.html") + fs.glob(f"{path.rstrip('/')}/*/*.html")
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return sorted(p if proto == "file" else f"{proto}://{p}" for p in found)
