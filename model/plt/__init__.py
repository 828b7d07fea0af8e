"""Parallel Loop Transformer: config, model, gated loop attention, KV cache, decoding, dense-to-loop folding."""

from .cache import PLTCache
from .config import PRESETS, PLTConfig
from .model import PLT

__all__ = ["PLT", "PLTCache", "PLTConfig", "PRESETS"]
