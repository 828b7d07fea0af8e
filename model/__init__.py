"""The Parallel Loop Transformer (PLT): config, model, attention backends, KV cache, decoding, dense-to-loop folding.

Installed as ``codeflow.model``; the model code lives in :mod:`codeflow.model.plt`.
"""
