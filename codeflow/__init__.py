"""codeflow: build the code-flow pretraining corpus and train a Parallel Loop Transformer on it.

The library is organised as pure stage cores (``codeflow.<stage>``) with thin engine adapters
(``codeflow.pipelines.datatrove`` / ``codeflow.pipelines.spark``) over a Parquet lake (``codeflow.lake``).
"""

__version__ = "0.1.0"
