"""All FIM special tokens in one place, so another tokenizer's tokens can be swapped in.

The defaults are the Qwen2.5-Coder / IQuest-Coder strings (``<|fim_prefix|>`` = 151659 ...). A training
setup with other tokens (StarCoder's ``<fim_prefix>``, a custom vocabulary) passes its own ``FimTokens``;
every renderer and parser in ``codeflow.fim`` takes the tokens as an argument and never hard-codes a string.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from codeflow.tokens import END_OF_SAMPLE


@dataclass(frozen=True)
class FimTokens:
    """Special-token strings of one tokenizer.

    ``end`` terminates every sample: ``codeflow.tokens.END_OF_SAMPLE`` (``<|endoftext|>``), the trainer's EOS and the
    same terminator as commit triplets, so the loader never adds a second one.
    """

    prefix: str = "<|fim_prefix|>"
    suffix: str = "<|fim_suffix|>"
    middle: str = "<|fim_middle|>"
    end: str = END_OF_SAMPLE
    repo_name: str = "<|repo_name|>"
    file_sep: str = "<|file_sep|>"

    def all(self) -> tuple[str, ...]:
        return tuple(asdict(self).values())

    def found_in(self, text: str) -> str | None:
        """The first special token occurring in ``text`` (such text would make a sample ambiguous), or None."""
        for tok in self.all():
            if tok in text:
                return tok
        return None


QWEN = FimTokens()
STARCODER = FimTokens(prefix="<fim_prefix>", suffix="<fim_suffix>", middle="<fim_middle>", end="<|endoftext|>",
                      repo_name="<repo_name>", file_sep="<file_sep>")
PRESETS: dict[str, FimTokens] = {"qwen": QWEN, "starcoder": STARCODER}


def get_tokens(name: str) -> FimTokens:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown token preset {name!r}; choose one of {', '.join(PRESETS)}") from None
