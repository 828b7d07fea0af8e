"""Spark adapters: run codeflow units as Spark tasks (``mapInArrow``) and global phases in Spark SQL.

pyspark is the ``spark`` extra: importing this package without it says how to install it.
"""

import importlib.util

if importlib.util.find_spec("pyspark") is None:
    from codeflow.pipelines import SPARK_EXTRA

    raise ImportError(SPARK_EXTRA)
