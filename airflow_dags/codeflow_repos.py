"""Repository branch of the corpus: code -> FIM (file and repo level), and commit triplets.

Params choose the lake, the repo list (default: the bundled sample repository) and the engine; each run writes
``{lake}/{stage}/{logical date}``. Retries are safe: a retried stage resumes from its committed shards.
"""

from __future__ import annotations

import pendulum
from _tasks import DEFAULT_ARGS, PARAMS, repos_branch
from airflow.sdk import dag


@dag(dag_id="codeflow_repos", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     params=PARAMS, default_args=DEFAULT_ARGS, tags=["codeflow"], doc_md=__doc__)
def codeflow_repos() -> None:
    repos_branch()


codeflow_repos()
