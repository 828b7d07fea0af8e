"""datatrove adapters: run codeflow units on ``LocalPipelineExecutor`` and use stages inside datatrove pipelines."""
