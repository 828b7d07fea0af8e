"""Language ID with fastText's ``lid.176.ftz``, bundled in the package (nothing is downloaded at run time).

The model is loaded once per process (module-level cache) so stage objects stay small and picklable.
``CODEFLOW_LID_MODEL`` points at another fastText LID model (e.g. the larger ``lid.176.bin``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from codeflow.errors import CodeflowError

MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
_MODELS: dict[str, object] = {}
_WS = re.compile(r"\s+")


def model_path() -> str:
    env = os.environ.get("CODEFLOW_LID_MODEL")
    if env:
        return env
    return str(Path(__file__).resolve().parent.parent / "data" / "models" / "lid.176.ftz")


def _model():
    path = model_path()
    model = _MODELS.get(path)
    if model is None:
        if not os.path.exists(path):
            raise CodeflowError(f"language-ID model not found: {path} (set CODEFLOW_LID_MODEL)")
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # silence the load_model deprecation banner
        model = fasttext.load_model(path)
        _MODELS[path] = model
    return model


def identify(text: str, max_chars: int = 10000) -> tuple[str, float]:
    """``(iso_code, probability)`` of the top language; ``("und", 0.0)`` for text without letters."""
    sample = _WS.sub(" ", text[:max_chars]).strip()
    if not sample:
        return "und", 0.0
    labels, probs = _model().predict(sample, k=1)
    if not labels:
        return "und", 0.0
    return labels[0].removeprefix("__label__"), round(float(min(1.0, probs[0])), 4)


def known_languages() -> set[str]:
    """Every code the LID model can answer (``--languages`` is checked against it before a run)."""
    return {label.removeprefix("__label__") for label in _model().get_labels()}
