"""The named cleaning rules applied to extracted prose (never to code blocks).

Each rule has a name (used in stats: how many documents each rule changed), a one-line reason, and is
either a *substitution* over the text or a *line drop* (lines matching the pattern are removed: cookie
banners, navigation, share buttons that survive main-text extraction). ``ftfy`` runs first so the regexes
see repaired text. Order matters and is the order of ``RULES``. ``docs/clean_cc.md`` lists them; every rule
has a test in ``tests/web/test_rules.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    pattern: re.Pattern
    replacement: str | None = None  # None: drop every line that matches

    def apply(self, text: str) -> str:
        if self.replacement is not None:
            return self.pattern.sub(self.replacement, text)
        lines = text.split("\n")
        kept = [ln for ln in lines if not self.pattern.search(ln)]
        return "\n".join(kept) if len(kept) != len(lines) else text


_I = re.I
RULES: tuple[Rule, ...] = (
    Rule("control_chars", "C0/C1 control characters other than tab and newline are never prose",
         re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"), ""),
    Rule("zero_width", "zero-width spaces/joiners and stray BOMs split words invisibly",
         re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]"), ""),
    Rule("carriage_returns", "CRLF and lone CR become LF so line rules see real lines",
         re.compile(r"\r\n?"), "\n"),
    Rule("sphinx_permalinks", "heading anchors (¶, §) glued to headings by doc generators",
         re.compile(r"[ \t]*[\u00b6\u00a7]$", re.M), ""),
    Rule("cookie_lines", "cookie / consent banners",
         re.compile(r"\b(we use cookies|this (web)?site uses cookies|accept (all )?cookies|"
                    r"cookie (policy|settings|preferences|consent)|by continuing to (use|browse)|"
                    r"consent to (the use of|our use of) cookies)\b", _I)),
    Rule("javascript_notice", "'enable JavaScript' notices (C4 drops these lines too)",
         re.compile(r"\b(enable|enabled|turn on) javascript\b|\bjavascript (is|must be) (disabled|enabled|required)\b"
                    r"|\byour browser does not support\b", _I)),
    Rule("nav_lines", "navigation and pager lines: 'Skip to content', 'Previous topic', crumbs 'Home » Docs'",
         re.compile(r"^\s*(skip to (main )?content|jump to navigation|toggle navigation|main menu|"
                    r"(previous|next) (topic|page|chapter|post|article)|back to top|table of contents|"
                    r"this page|show source|report a bug|navigation)\s*:?\s*$|^\s*home\s*(»|›|>|/|\|)", _I)),
    Rule("share_lines", "social share / follow buttons",
         re.compile(r"^\s*(share( this)?( on| via)? (facebook|twitter|linkedin|reddit|email|x)\b|"
                    r"(follow|like) us on\b|tweet\s*$|pin it\s*$|share\s*$)", _I)),
    Rule("account_lines", "login / sign-up / subscribe prompts",
         re.compile(r"^\s*(log ?in|sign ?in|sign ?up|register|subscribe( now)?|create (an )?account|"
                    r"forgot (your )?password\??)\s*(\||/|or|$)", _I)),
    Rule("legal_footer", "copyright and legal footer lines",
         re.compile(r"(^\s*(©|\(c\)|copyright\b).{0,120}$|all rights reserved|^\s*(privacy policy|terms of "
                    r"(use|service)|cookie policy|legal notice|imprint)(\s*[|·•]\s*\w.*)?\s*$|^\s*powered by \w+)",
                    _I | re.M)),
    Rule("whitespace_runs", "runs of spaces/tabs inside prose lines collapse to one space",
         re.compile(r"(?<=\S)[ \t\u00a0]{2,}(?=\S)"), " "),
    Rule("trailing_whitespace", "whitespace at line ends carries nothing",
         re.compile(r"[ \t\u00a0]+$", re.M), ""),
    Rule("blank_line_runs", "three or more newlines collapse to one blank line",
         re.compile(r"\n{3,}"), "\n\n"),
)
RULE_NAMES = ("ftfy",) + tuple(r.name for r in RULES)


def fix_encoding(text: str) -> str:
    """ftfy: mojibake ('Ã©' -> 'é'), leftover HTML entities; the 'broken encodings' rule.

    ftfy is the slowest rule, so it runs only where it can change something: text with non-ASCII characters
    that ftfy's own badness heuristic flags, or with an HTML entity. Curly quotes are left alone."""
    import ftfy
    from ftfy.badness import is_bad

    if text.isascii() and "&" not in text or not text.isascii() and not is_bad(text) and "&" not in text:
        return text
    return ftfy.fix_text(text, normalization="NFC", unescape_html=True, fix_line_breaks=False, uncurl_quotes=False)


def clean(text: str, stats: Counter | None = None, enabled: tuple[str, ...] | None = None) -> str:
    """Apply the rules in order; ``stats['rule:<name>']`` counts the documents each rule changed."""
    out = text
    if enabled is None or "ftfy" in enabled:
        fixed = fix_encoding(out)
        if stats is not None and fixed != out:
            stats["rule:ftfy"] += 1
        out = fixed
    for rule in RULES:
        if enabled is not None and rule.name not in enabled:
            continue
        new = rule.apply(out)
        if stats is not None and new != out:
            stats[f"rule:{rule.name}"] += 1
        out = new
    return out.strip("\n")
