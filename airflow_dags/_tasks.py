"""Task factories shared by the codeflow DAGs (Airflow-specific glue; the logic is in ``codeflow.orchestrate``).

Every task reads the DAG params, works out its stage's input and run folder (keyed by the logical date) from
the chain in ``codeflow.orchestrate``, and calls the stage's Python entry point. A stage whose command does not
exist in the installed codeflow, or that lacks an input it needs, is *skipped* (the task shows as skipped and
the next stage reads the last stage that ran). Tasks retry: a retried stage resumes from its committed shards.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import timedelta

from airflow.sdk import Asset, Param, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from codeflow import orchestrate as orch

log = logging.getLogger("codeflow.airflow")

DEFAULT_LAKE = os.environ.get("CODEFLOW_LAKE") or os.path.join(
    os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "codeflow-lake")
DEFAULT_ARGS = {"retries": 2, "retry_delay": timedelta(seconds=30)}

PARAMS = {
    "lake": Param(DEFAULT_LAKE, type="string", description="Lake root: a folder or an fsspec URL (s3://bucket/lake)."),
    "warcs": Param([], type="array", description="WARC/ARC/WET files for clean-cc (default: the bundled sample)."),
    "repos": Param("", type="string", description="Repo list (one path/URL per line; default: the bundled sample)."),
    "engine": Param("local", enum=["local", "spark"], description="local: in the worker; spark: spark-submit."),
    "workers": Param(2, type="integer", minimum=1, description="Local engine worker processes."),
    "spark_master": Param("", type="string", description="spark://host:port (else the Airflow connection "
                                                         "`codeflow_spark`)."),
    "classify_models": Param([], type="array", description="Classifier model folders (classify is skipped "
                                                           "without one)."),
    "classify_keep": Param([], type="array", description="Keep rules such as 'edu>=3'."),
    "benchmarks": Param("", type="string", description="Decontamination benchmarks (default: all bundled)."),
    "train_steps": Param(20, type="integer", minimum=1, description="Trainer steps (training DAG)."),
}


def asset_uri(lake: str, stage: str) -> str:
    """Asset URIs must be absolute URIs; a local lake folder becomes ``file:///...``."""
    if "://" in lake:
        return f"{lake.rstrip('/')}/{stage}"
    return "file://" + os.path.abspath(os.path.join(lake, stage))


def stage_asset(stage: str) -> Asset:
    # named by its URI: a lake moved to another URL gives new assets instead of clashing with the old names
    return Asset(asset_uri(DEFAULT_LAKE, stage))


def _spark_master_from_connection() -> str:
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection("codeflow_spark")
    except AirflowNotFoundException:
        return ""
    return f"spark://{conn.host}:{conn.port or 7077}"


def params_of(context) -> orch.Params:
    """DAG params -> ``orchestrate.Params``, with the bundled samples as defaults for empty inputs."""
    raw = dict(context["params"])
    if not raw.get("warcs"):
        raw["warcs"] = orch.default_warcs()
    if not raw.get("repos"):
        raw["repos"] = orch.default_repo_list(os.path.join(tempfile.gettempdir(), "codeflow-airflow"))
    if raw.get("engine") == "spark" and not raw.get("spark_master"):
        raw["spark_master"] = _spark_master_from_connection()
    return orch.Params.from_dict(raw)


def key_of(context) -> str:
    when = context.get("logical_date") or context["dag_run"].run_after
    return orch.run_key(when)


def run_step(step: orch.Step, p: orch.Params, context, asset: Asset) -> str:
    try:
        found = orch.run_stage(step, p)
    except orch.StageUnavailable as e:
        raise AirflowSkipException(str(e)) from e
    except orch.StageFailed as e:
        if e.retryable:
            raise
        raise AirflowFailException(str(e)) from e  # bad input or options: a retry cannot help
    for report in found:
        log.info("report: %s", report)
    context["outlet_events"][asset].extra = {"run": step.out}
    return step.out


def stage_task(chain: str, task_id: str):
    """The task running stage ``task_id`` of ``chain`` ('web' or 'repos'), declaring its output Asset."""
    build = {"web": orch.web_chain, "repos": orch.repos_chain}[chain]
    asset = stage_asset(task_id)

    @task(task_id=task_id, outlets=[asset], trigger_rule=TriggerRule.NONE_FAILED)
    def run_it(**context) -> str:
        p = params_of(context)
        step = {s.task_id: s for s in build(p, key_of(context))}[task_id]
        return run_step(step, p, context, asset)

    return run_it()


def chain_tasks(chain: str, task_ids: list[str]) -> list:
    return [stage_task(chain, t) for t in task_ids]


WEB_TASKS = ["clean_cc", "dedup_exact", "dedup_minhash", "classify", "decontaminate"]
REPO_TASKS = ["code", "fim_file", "fim_repo", "triplets"]
TRAIN_SOURCES = ["fim_file", "fim_repo", "triplets"]


def web_branch() -> list:
    tasks = chain_tasks("web", WEB_TASKS)
    for a, b in zip(tasks, tasks[1:], strict=False):
        a >> b
    return tasks


def repos_branch() -> list:
    code, fim_file, fim_repo, triplets = chain_tasks("repos", REPO_TASKS)
    code >> [fim_file, fim_repo]
    return [code, fim_file, fim_repo, triplets]


def train_task():
    asset = stage_asset("train")

    @task(task_id="train", outlets=[asset], trigger_rule=TriggerRule.NONE_FAILED)
    def train(**context) -> str:
        p = params_of(context)
        key = key_of(context)
        data = [orch.stage_url(p.lake, s, key) for s in TRAIN_SOURCES]
        events = context.get("triggering_asset_events") or {}
        for evs in events.values():  # scheduled on data: train on the runs that produced the assets
            data += [e.extra["run"] for e in evs if e.extra.get("run")]
        data = sorted({d for d in data if orch.has_rows(d)})
        return run_step(orch.train_step(p, key, data), p, context, asset)

    return train()
