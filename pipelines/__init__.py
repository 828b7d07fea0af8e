"""Engine adapters and assembled pipelines: datatrove (local default) and Spark."""
