"""Commit message filters and a message-quality score.

The rules are the union of what CommitPack (trivial-message list), CommitPackFT (imperative start, no version
strings, not the file stem only), CommitChronicle (bot / housekeeping regexes, trailer stripping) and R2E-Gym
use (sources in ``docs/triplets.md``). A filtered message makes its commit a non-endpoint; the commit's change
still counts inside a longer step.
"""

from __future__ import annotations

import re

TRIVIAL = frozenset({
    "update", "updates", "updated", "initial commit", "first commit", "init", "wip", "test", "testing", "commit",
    "no message", "fix", "fixes", "fixed", "minor", "minor fix", "minor fixes", "cleanup", "clean up", "changes",
    "more", "stuff", "tmp", "temp", "save", "add files via upload", "update readme", "update readme.md",
    "readme", "typo", "fix typo", "typos", ".", "..", "...", "-", "asdf", "lalala", "please", "merge",
    "small fix", "bump", "version bump", "release", "done", "try", "oops", "refactor", "format", "lint",
})
BOT_AUTHOR = re.compile(r"(\[bot\]|dependabot|renovate|greenkeeper|pre-commit-ci|github-actions|snyk-bot|"
                        r"pyup-bot|imgbot|allcontributors|semantic-release|web-flow-bot)", re.I)
HOUSEKEEPING = re.compile(
    r"^(update (changelog|changes|gitignore|readme|authors|contributors|copyright|license|submodule)s?\b|"
    r"bump (version|to|from|the)\b|bump \S+ from \S+ to|prepare (for )?(version|release)|release v?\d|"
    r"(set|update) version|version \d|v?\d+\.\d+(\.\d+)?([-.]\w+)?$|\[skip ci\]|\[ci skip\]|"
    r"modify (dockerfile|makefile)|auto[- ]?(commit|format|generated|update)|apply automatic|"
    r"merge (branch|pull request|remote-tracking)|revert \"merge)", re.I)
VERSION = re.compile(r"\bv?\d+\.\d+\.\d+\b")
TRAILER = re.compile(r"^(signed-off-by|co-authored-by|change-id|reviewed-by|reviewed-on|acked-by|tested-by|"
                     r"piperorigin-revid|differential revision|cc|bug|fixes|closes|resolves|refs?):.*$", re.I | re.M)
MERGE_HEADER = re.compile(r"^Merge (pull request #\d+ from \S+|branch '[^']*'( of \S+)?( into \S+)?|"
                          r"remote-tracking branch \S+)\s*$", re.M)
IMPERATIVE = frozenset("""
add adjust allow apply avoid build bump cache call catch change check clarify clean convert copy correct create
declare default define delete deprecate detect disable drop enable enforce ensure expand expose extend extract fix
generalize guard handle hide ignore implement import improve include increase initialize inline introduce keep
limit log make mark merge migrate move normalize optimize pass port prefer prevent print propagate raise read
reduce refactor register reject release remove rename reorder replace report require reset resolve restore
restrict return reuse revert rewrite run sanitize save separate set show simplify skip sort speed split start
stop store strip support switch test throw tidy track treat trim tweak unify update upgrade use validate verify
warn wrap write
""".split())


def clean(message: str) -> str:
    """The message without trailers and a merge's boilerplate header; what the record stores."""
    text = MERGE_HEADER.sub("", message)
    text = TRAILER.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


def subject(message: str) -> str:
    return clean(message).split("\n", 1)[0].strip()


def is_bot(author_name: str, author_email: str) -> bool:
    return bool(BOT_AUTHOR.search(author_name or "") or BOT_AUTHOR.search(author_email or ""))


BOT_BRANCH = re.compile(r"^Merge pull request #\d+ from \S+?/(renovate|dependabot|greenkeeper|pre-commit-ci|"
                        r"snyk|imgbot|allcontributors)[/-]", re.I | re.M)
BOILERPLATE = re.compile(
    r"^(release(\s+v?\d|\s+(version|candidate|notes)\b|$)|releasing\b|bump (the )?version|"
    r"bump (\S+ )?(from \S+ )?to v?\d|prepare (for )?(the )?(\S+ )?(version|release)|(set|update) version|"
    r"version \d|v?\d+\.\d+(\.\d+)?([-.]\w+)?$|update (changelog|changes|news|history)|"
    r"(update|add|fix) (\S+ )?(badges?|funding|sponsors?)\b|changelog\b|"
    r"merge (branch|remote-tracking|tag)|\[skip ci\]|\[ci skip\])", re.I)


def is_boilerplate(message: str, author: str = "", email: str = "", merge: bool = False) -> bool:
    """A release / version bump / change-log / badge / branch-sync commit, or a bot's: housekeeping that no
    development step should carry (a step never spans one: ``search``).

    A merge is judged on what is left after its header: "Merge branch 'main' into dev" leaves nothing (a branch
    sync), "Merge pull request #12 from a/b" + "Release 2.0" is a release; a pull request from a bot's branch
    (``renovate/...``, ``dependabot/...``) is a bot's.
    """
    if is_bot(author, email) or (merge and BOT_BRANCH.search(message or "")):
        return True
    subj = subject(message)
    if merge and not subj:
        return True
    raw = (message or "").split("\n", 1)[0].strip()
    return bool(BOILERPLATE.search(subj) or (not merge and BOILERPLATE.search(raw)))


def message_filter(message: str, merge: bool = False) -> str | None:
    """The filter a message fails (``trivial_message``) or None when it may close a triplet.

    For a merge the boilerplate header ("Merge pull request #N from ...") is dropped first, so what is judged
    is the pull request's title / body.
    """
    raw_subject = subject(message) if merge else (message or "").split("\n", 1)[0].strip()
    subj = subject(message)
    norm = re.sub(r"[\s.!]+$", "", subj.lower())
    if len(subj) < 6 or norm in TRIVIAL or len(subj.split()) < 2:
        return "trivial_message"
    if HOUSEKEEPING.search(raw_subject) or HOUSEKEEPING.search(subj):
        return "trivial_message"
    if re.fullmatch(r"[0-9a-f]{7,40}", norm):
        return "trivial_message"
    return None


def quality(message: str) -> float:
    """0..1: how much a message looks like a good commit message (clear subject, imperative, context).

    0.3 subject length 10-120 chars, 0.2 four or more words, 0.3 starts with an imperative verb (CommitPackFT's
    idea; a capitalised first word alone earns 0.1), 0.1 has a body, 0.1 no version string / bare issue ref.
    """
    subj = subject(message)
    if not subj:
        return 0.0
    words = re.sub(r"^(\[[^\]]*\]\s*|[\w./-]+:\s+)", "", subj).split()
    score = 0.0
    if 10 <= len(subj) <= 120:
        score += 0.3
    elif len(subj) > 120:
        score += 0.1
    if len(words) >= 4:
        score += 0.2
    first = words[0].lower().rstrip(":,") if words else ""
    if first in IMPERATIVE or first.rstrip("sd") in IMPERATIVE or first[:-2] in IMPERATIVE:
        score += 0.3
    elif words and words[0][:1].isupper():
        score += 0.1
    if "\n" in clean(message):
        score += 0.1
    if not VERSION.search(subj) and not re.fullmatch(r"[#\w-]*\d+", subj):
        score += 0.1
    return round(min(score, 1.0), 4)
