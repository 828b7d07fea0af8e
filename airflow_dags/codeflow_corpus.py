"""The whole corpus build in one DAG run: the web branch, the repository branch, then training.

The same tasks as ``codeflow_web``, ``codeflow_repos`` and ``codeflow_train`` (one factory), chained.
"""

from __future__ import annotations

import pendulum
from _tasks import DEFAULT_ARGS, PARAMS, repos_branch, train_task, web_branch
from airflow.sdk import TaskGroup, dag


@dag(dag_id="codeflow_corpus", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     params=PARAMS, default_args=DEFAULT_ARGS, tags=["codeflow"], doc_md=__doc__)
def codeflow_corpus() -> None:
    with TaskGroup("web"):
        web = web_branch()
    with TaskGroup("repos"):
        repos = repos_branch()
    train = train_task()
    [web[-1], *repos[1:]] >> train


codeflow_corpus()
