"""Web branch of the corpus: clean-cc -> exact dedup -> MinHash dedup -> classify -> decontaminate.

Params choose the lake, the WARC files and the engine; each run writes ``{lake}/{stage}/{logical date}``.
Retries are safe: a retried stage resumes from its committed shards and ends byte-identical.
"""

from __future__ import annotations

import pendulum
from _tasks import DEFAULT_ARGS, PARAMS, web_branch
from airflow.sdk import dag


@dag(dag_id="codeflow_web", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     params=PARAMS, default_args=DEFAULT_ARGS, tags=["codeflow"], doc_md=__doc__)
def codeflow_web() -> None:
    web_branch()


codeflow_web()
