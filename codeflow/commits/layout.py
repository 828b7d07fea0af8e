"""Fit a triplet's text into the token budget: the message and the patch complete, the files as views.

Every touched file starts ``whole`` (context files too); while the text is over the step's limit the largest
item of the step is lowered one level, in this order (``STEPS``):

1. context files ``whole`` -> ``outline`` (definition headers only),
2. touched files ``whole`` -> ``defs`` (touched definitions with their enclosing headers),
3. context files ``outline`` -> dropped, all three while over ``whole_tokens``: whole files are shown only when
   they fit in this smaller share of the budget, so a triplet is as long as its change needs, not as long as the
   budget allows;
4. touched files ``defs`` -> ``windows`` (a few lines around each change), while over ``max_tokens``;
5. touched files ``windows`` -> ``elided``, while over ``max_tokens``.

A file's old and new views always share a level, so R_old and R_new show the same regions. Documentation,
change logs and CI files are ``elided`` from the start: the patch shows their diff, which is all a model
learns from them. The message and the patch are never cut: a triplet whose fixed part is over the budget is
not made (reject ``over_budget``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from codeflow.commits import paths, views
from codeflow.commits.budget import TokenCounter

CI_PATH = re.compile(r"(^|/)(\.github|\.circleci|\.gitlab|\.buildkite|\.azure-pipelines)/|"
                     r"(^|/)(\.travis\.yml|\.gitlab-ci\.yml|appveyor\.yml|azure-pipelines\.yml|\.cirrus\.yml|"
                     r"Jenkinsfile|codecov\.yml|\.codecov\.yml|\.pre-commit-config\.yaml)$")
CHANGELOG = re.compile(r"^(changes|changelog|history|news|releases?|authors|contributors|readme|license|copying)"
                       r"([._-].*)?$", re.I)
CONTEXT_LEVELS = ("whole", "outline", "dropped")
# (items, level they are lowered to, limit: "soft" = whole_tokens, "hard" = max_tokens)
STEPS = (("context", "outline", "soft"), ("touched", "defs", "soft"), ("context", "dropped", "soft"),
         ("touched", "windows", "hard"), ("touched", "elided", "hard"))


def diff_only(path: str) -> bool:
    """Documentation, change logs, READMEs and CI configuration: shown in the patch only, never as a view."""
    return paths.classify(path) == "doc" or bool(CI_PATH.search(path)) or \
        bool(CHANGELOG.match(posixpath.basename(path)))


def changed_ranges(patch) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(old, new) changed line ranges ``(start, count)``, 0-based, of a pygit2 ``Patch`` (count 0: an insertion
    point before line ``start``)."""
    old: list[tuple[int, int]] = []
    new: list[tuple[int, int]] = []
    for hunk in patch.hunks:
        o = hunk.old_start - 1 if hunk.old_lines else hunk.old_start
        n = hunk.new_start - 1 if hunk.new_lines else hunk.new_start
        run: list[int] | None = None  # [old start, old count, new start, new count]
        for line in hunk.lines:
            origin = line.origin
            if origin == " ":
                if run:
                    old.append((run[0], run[1]))
                    new.append((run[2], run[3]))
                    run = None
                o, n = o + 1, n + 1
            elif origin == "-":
                run = run or [o, 0, n, 0]
                run[1] += 1
                o += 1
            elif origin == "+":
                run = run or [o, 0, n, 0]
                run[3] += 1
                n += 1
        if run:
            old.append((run[0], run[1]))
            new.append((run[2], run[3]))
    return old, new


@dataclass
class Touched:
    """One file of the patch: its old / new text (None when added / deleted) and changed ranges."""

    path: str
    old: str | None
    new: str | None
    old_ranges: list[tuple[int, int]]
    new_ranges: list[tuple[int, int]]
    level: str = "whole"
    _views: dict = field(default_factory=dict)
    _defs: dict = field(default_factory=dict)

    def side(self, which: str) -> str:
        text = self.old if which == "old" else self.new
        if text is None:
            return ""
        key = (which, self.level)
        if key not in self._views:
            if self.level == "whole":
                view = text if text.endswith("\n") or not text else text + "\n"
            else:
                if which not in self._defs:
                    base = self.old if which == "new" else None  # parsed from the old side's tree
                    self._defs[which] = views.definitions(text, paths.language(self.path), base=base)
                lines = views.split_lines(text)
                ranges = self.old_ranges if which == "old" else self.new_ranges
                view = views.render(lines, views.keep_lines(len(lines), ranges, self.level, self._defs[which]))
            self._views[key] = view
        return self._views[key]


@dataclass
class Context:
    path: str
    content: str
    level: str = "whole"
    _outline: list = field(default_factory=list)

    def view(self) -> str | None:
        if self.level == "dropped":
            return None
        if self.level == "whole":
            return self.content if self.content.endswith("\n") or not self.content else self.content + "\n"
        if not self._outline:
            lines = views.split_lines(self.content)
            keep = views.outline_lines(len(lines), views.definitions(self.content, paths.language(self.path)))
            self._outline.append(views.render(lines, keep) if keep else None)
        return self._outline[0]


@dataclass
class Layout:
    context: list[tuple[str, str]]
    old: list[tuple[str, str]]
    new: list[tuple[str, str]]
    levels: dict[str, str]  # touched path -> level


class Fitter:
    """Chooses the views; ``fit`` raises ``OverBudget`` when even the smallest layout is too long."""

    def __init__(self, counter: TokenCounter, max_tokens: int, whole_tokens: int | None = None) -> None:
        self.counter = counter
        self.max_tokens = max_tokens
        self.whole_tokens = min(max_tokens, whole_tokens if whole_tokens is not None else max_tokens)
        self._cost: dict[tuple, int] = {}

    def _tokens(self, key: tuple, text: str) -> int:
        if key not in self._cost:
            self._cost[key] = self.counter.count(text)
        return self._cost[key]

    def touched_cost(self, f: Touched) -> int:
        total = 0
        for which in ("old", "new"):
            if (f.old if which == "old" else f.new) is not None:
                # "<|file_sep|>" is one special token; the rest is counted as text
                total += 1 + self._tokens(("t", f.path, which, f.level), f"{f.path}\n{f.side(which)}")
        return total

    def context_cost(self, c: Context) -> int:
        view = c.view()
        return 0 if view is None else 1 + self._tokens(("c", c.path, c.level), f"{c.path}\n{view}")

    def fit(self, fixed_tokens: int, touched: list[Touched], context: list[Context]) -> Layout:
        for f in touched:
            if diff_only(f.path):
                f.level = "elided"

        def total() -> int:
            ctx = [self.context_cost(c) for c in context]
            return fixed_tokens + sum(self.touched_cost(f) for f in touched) + sum(ctx) + (1 if any(ctx) else 0)

        current = total()
        for kind, target, limit_name in STEPS:
            limit = self.whole_tokens if limit_name == "soft" else self.max_tokens
            if current <= limit:
                continue
            items = touched if kind == "touched" else context
            order = views.LEVELS if kind == "touched" else CONTEXT_LEVELS
            cost = self.touched_cost if kind == "touched" else self.context_cost
            # lower the largest items first, each at most to this step's level
            for item in sorted(items, key=lambda x: (-cost(x), x.path)):
                if current <= limit:
                    break
                if order.index(item.level) < order.index(target):
                    before = cost(item)
                    item.level = target
                    current += cost(item) - before
        if current > self.max_tokens:
            raise OverBudget(current)
        shown = [(c.path, v) for c in context if (v := c.view()) is not None]
        return Layout(shown, [(f.path, f.side("old")) for f in touched if f.old is not None],
                      [(f.path, f.side("new")) for f in touched if f.new is not None],
                      {f.path: f.level for f in touched})


class OverBudget(Exception):
    def __init__(self, tokens: int) -> None:
        super().__init__(f"{tokens} tokens even with every file elided")
        self.tokens = tokens
