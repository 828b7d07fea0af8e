"""Every named cleaning rule does its one job, and leaves ordinary prose alone."""

from __future__ import annotations

from collections import Counter

import pytest

from codeflow.web import rules

PROSE = "Python is a programming language that lets you work quickly.\nIt has {braces} and tabs\there."
# rule name -> (dirty input, expected output of that rule alone)
CASES = {
    "control_chars": ("bad\x00 by\x07te\x1b and \x85C1", "bad byte and C1"),
    "zero_width": ("zero\u200bwidth\ufeff join\u200d", "zerowidth join"),
    "carriage_returns": ("a\r\nb\rc", "a\nb\nc"),
    "sphinx_permalinks": ("4.1. if Statements\u00b6\nBody text.", "4.1. if Statements\nBody text."),
    "cookie_lines": ("Intro.\nWe use cookies to improve your experience. Accept all cookies\nBody.", "Intro.\nBody."),
    "javascript_notice": ("Intro.\nPlease enable JavaScript to view the comments.\nBody.", "Intro.\nBody."),
    "nav_lines": ("Skip to content\nPrevious topic\nHome » Docs » Tutorial\nReal text.", "Real text."),
    "share_lines": ("Share on Facebook\nFollow us on Twitter today\nReal text.", "Real text."),
    "account_lines": ("Log in | Sign up\nSubscribe now\nReal text.", "Real text."),
    "legal_footer": ("Real text.\n© 2001-2024 Python Software Foundation\nAll rights reserved.\nPrivacy Policy",
                     "Real text."),
    "whitespace_runs": ("too    many \t spaces", "too many spaces"),
    "trailing_whitespace": ("line one   \nline two\t", "line one\nline two"),
    "blank_line_runs": ("a\n\n\n\n\nb", "a\n\nb"),
}


def test_every_rule_has_a_case():
    assert set(CASES) == {r.name for r in rules.RULES}
    assert len(set(rules.RULE_NAMES)) == len(rules.RULE_NAMES)


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.name)
def test_rule(rule):
    dirty, expected = CASES[rule.name]
    assert rule.apply(dirty).strip("\n") == expected
    assert rule.apply(expected).strip("\n") == expected  # idempotent on its own output


def test_ftfy_fixes_mojibake_and_keeps_curly_quotes():
    assert rules.fix_encoding("cafÃ© costs â‚¬5") == "café costs €5"
    assert rules.fix_encoding("It’s “quoted”") == "It’s “quoted”"
    assert rules.fix_encoding("a &amp; b") == "a & b"


def test_clean_counts_rules_and_keeps_prose():
    stats: Counter = Counter()
    assert rules.clean(PROSE, stats) == PROSE.replace("\t", "\t")
    assert not stats
    out = rules.clean("Skip to content\ncafÃ© text   here\u00b6\n\n\n\nend", stats)
    assert out == "café text here\n\nend"
    assert stats["rule:ftfy"] == 1 and stats["rule:nav_lines"] == 1 and stats["rule:blank_line_runs"] == 1
