"""Engine adapters and assembled pipelines: datatrove (local default) and Spark."""

SPARK_EXTRA = "the Spark engine needs the spark extra: pip install 'codeflow[spark]' (and Java 17+)"
