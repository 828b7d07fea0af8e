"""Entry script for ``spark-submit``: runs any codeflow command on the cluster's master.

    spark-submit --master spark://host:7077 pipelines/spark/submit.py dedup --exact \\
        --input s3://bucket/docs --out s3://bucket/lake/dedup_exact/run1 --engine spark

The session is created by spark-submit (master, executors, packages); ``get_spark`` detects that and does not
override the master. ``--engine spark`` is what routes the stage's units to Spark tasks.
"""

from __future__ import annotations

import sys

from codeflow.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
