"""Spark adapters: run codeflow units as Spark tasks (``mapInArrow``) and global phases in Spark SQL."""
