"""Render FIM samples as training text, and parse the text back (the round trip is a tested invariant).

File level (PSM, as in the IQuest/LoopCoder reports)::

    <|fim_prefix|>{pre}<|fim_suffix|>{suf}<|fim_middle|>{mid}<|endoftext|>

Repo level: the context files, then the target file in FIM form::

    <|repo_name|>{name}\n<|file_sep|>{path}\n{content}\n ... <|file_sep|>{target_path}\n<|fim_prefix|>...

A sample that is not FIM'd (probability 1 - fim_rate) is the plain file followed by the end token, in the repo
format after its target path line. Parsing is unambiguous because the stage refuses file contents, paths and
repo names that contain a special token, and paths or names that contain a newline (see ``check_text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeflow.fim.tokens import QWEN, FimTokens


@dataclass
class Parsed:
    """What a rendered text holds. ``fim`` is False for plain samples (then ``prefix`` is the whole file)."""

    prefix: str
    middle: str
    suffix: str
    fim: bool
    repo_name: str | None = None
    target_path: str | None = None
    context: list[tuple[str, str]] = field(default_factory=list)


def render_body(prefix: str, middle: str, suffix: str, fim: bool, tokens: FimTokens = QWEN) -> str:
    if not fim:
        return f"{prefix}{middle}{suffix}{tokens.end}"
    return f"{tokens.prefix}{prefix}{tokens.suffix}{suffix}{tokens.middle}{middle}{tokens.end}"


def render_file(prefix: str, middle: str, suffix: str, fim: bool = True, tokens: FimTokens = QWEN) -> str:
    """File-level sample text."""
    return render_body(prefix, middle, suffix, fim, tokens)


def render_repo(repo_name: str, context: list[tuple[str, str]], target_path: str, prefix: str, middle: str,
                suffix: str, fim: bool = True, tokens: FimTokens = QWEN) -> str:
    """Repo-level sample text: ``context`` is ``[(path, content), ...]`` in the order they are shown."""
    parts = [f"{tokens.repo_name}{repo_name}\n"]
    parts.extend(f"{tokens.file_sep}{path}\n{content}\n" for path, content in context)
    parts.append(f"{tokens.file_sep}{target_path}\n")
    parts.append(render_body(prefix, middle, suffix, fim, tokens))
    return "".join(parts)


class ParseError(ValueError):
    """The text is not a sample in the expected format."""


def parse_body(body: str, tokens: FimTokens = QWEN) -> tuple[str, str, str, bool]:
    if not body.endswith(tokens.end):
        raise ParseError("sample does not end with the end token")
    body = body[: -len(tokens.end)]
    if not body.startswith(tokens.prefix):
        return body, "", "", False
    rest = body[len(tokens.prefix):]
    pre, sep, rest = rest.partition(tokens.suffix)
    suf, sep2, mid = rest.partition(tokens.middle)
    if not sep or not sep2:
        raise ParseError("FIM body lacks the suffix or middle token")
    return pre, mid, suf, True


def parse_file(text: str, tokens: FimTokens = QWEN) -> Parsed:
    pre, mid, suf, fim = parse_body(text, tokens)
    return Parsed(pre, mid, suf, fim)


def parse_repo(text: str, tokens: FimTokens = QWEN) -> Parsed:
    if not text.startswith(tokens.repo_name):
        raise ParseError("repo sample does not start with the repo-name token")
    pieces = text[len(tokens.repo_name):].split(tokens.file_sep)
    if len(pieces) < 2 or not pieces[0].endswith("\n"):
        raise ParseError("repo sample lacks a target file")
    name = pieces[0][:-1]
    context = []
    for piece in pieces[1:-1]:
        path, nl, content = piece.partition("\n")
        if not nl or not content.endswith("\n"):
            raise ParseError(f"malformed context file entry {path!r}")
        context.append((path, content[:-1]))
    target_path, nl, body = pieces[-1].partition("\n")
    if not nl:
        raise ParseError("target path line is not terminated")
    pre, mid, suf, fim = parse_body(body, tokens)
    return Parsed(pre, mid, suf, fim, repo_name=name, target_path=target_path, context=context)


def check_text(value: str, tokens: FimTokens = QWEN, single_line: bool = False) -> str | None:
    """Why ``value`` cannot go into a sample (a special token, or a newline in a path/name), or None."""
    tok = tokens.found_in(value)
    if tok is not None:
        return f"contains special token {tok}"
    if single_line and ("\n" in value or "\r" in value):
        return "contains a line break"
    return None
