"""Training: the tiny PLT over the repository branch's shards, scheduled on data.

Runs whenever the FIM (file, repo) and triplet Assets have all been updated by a DAG run; it trains on the run
folders those updates carry (and on any complete run of the same logical date under the lake).
"""

from __future__ import annotations

import pendulum
from _tasks import DEFAULT_ARGS, PARAMS, TRAIN_SOURCES, stage_asset, train_task
from airflow.sdk import dag


@dag(dag_id="codeflow_train", schedule=[stage_asset(s) for s in TRAIN_SOURCES],
     start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, params=PARAMS, default_args=DEFAULT_ARGS,
     tags=["codeflow"], doc_md=__doc__)
def codeflow_train() -> None:
    train_task()


codeflow_train()
