"""Special-token strings shared by every stage that renders training text.

One end-of-sample convention across stages: every rendered sample (commit triplet, FIM sample, ...) ends with
``END_OF_SAMPLE``, which is also the trainer's EOS (``codeflow.model.tokenizer.EOS``, id 0). Why this one and not
``<|im_end|>``: ``<|endoftext|>`` is the document boundary of base-model pretraining (Qwen2.5-Coder ends its FIM
and repo-level samples with it; ``<|im_end|>`` closes chat turns), and the loader (``codeflow.model.data``)
appends EOS to any document not already ending with it, so a sample ending with another token would get two
terminators.
"""

END_OF_SAMPLE = "<|endoftext|>"
