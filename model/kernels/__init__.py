"""Fused attention kernels for the PLT (``codeflow.model.kernels``).

Importing this package does not import Triton; ``gated_attn`` does, on first use of the ``triton`` backend.
"""
