"""Planted copies of real benchmark items inside real files are found; real code sharing idioms is not flagged."""

from __future__ import annotations

import pytest

from codeflow.decontam.benchmarks import REGISTRY, load_items, parse_user_benchmark
from codeflow.decontam.index import MATCHERS, MatchConfig, build_index
from codeflow.decontam.match import PIECE_CHARS, Matcher
from codeflow.decontam.plant import VARIANTS, plant, variant
from codeflow.decontam.stage import to_matches

from .helpers import host_texts, humaneval, repo_texts

TASKS = (0, 2, 12, 26, 33, 57, 88, 107, 129, 150)


def matched(index, texts):
    hits, pieces = Matcher(index).match(texts)
    by_rec: dict[int, list] = {}
    for h in hits:
        by_rec.setdefault(h.record, []).append(h)
    return [to_matches(index, by_rec.get(r, []), pieces, 50) for r in range(len(texts))]


def planted_corpus(kind: str) -> tuple[list[str], list[str]]:
    hosts = host_texts()
    big = max(hosts, key=lambda h: len(h[1]))[1]
    texts, tasks = [], []
    for j, t in enumerate(TASKS):
        task, code = humaneval(t)
        host = big if kind == "embedded" else hosts[j % len(hosts)][1]
        texts.append(plant(host, variant(code, kind), at=0.3 + 0.05 * j))
        tasks.append(task)
    return texts, tasks


@pytest.mark.parametrize("kind", VARIANTS)
def test_planted_variants_found(index, kind: str) -> None:
    texts, tasks = planted_corpus(kind)
    results = matched(index, texts)
    found = [any(m.benchmark == "humaneval" and m.task_id == t for m in ms) for ms, t in zip(results, tasks,
                                                                                              strict=True)]
    assert sum(found) >= (10 if kind in ("verbatim", "embedded", "reindented", "commented") else 8), (kind, found)


def test_span_points_at_the_copy(index) -> None:
    task, code = humaneval(12)
    host = host_texts()[0][1]
    text = plant(host, code, at=0.5)
    start = text.index(code.strip()[:30])
    ms = [m for m in matched(index, [text])[0] if m.task_id == task and m.matcher == "ngram"]
    assert ms, "not found"
    m = ms[0]
    assert m.score == 1.0
    assert start - 5 <= m.start <= start + len(code) and start < m.end <= start + len(code) + 5
    item_field = dict((f, t) for f, _, t in load_items(REGISTRY["humaneval"])[12].segments)[m.field]
    assert item_field[m.item_start:m.item_end].strip()


def test_clean_real_code_and_idioms_not_flagged(index) -> None:
    idioms = ('# Licensed under the Apache License, Version 2.0 (the "License");\n'
              "# you may not use this file except in compliance with the License.\n"
              "def total(x):\n    s = 0\n    for i in range(len(x)):\n        s += x[i]\n    return s\n\n\n"
              'if __name__ == "__main__":\n    import sys\n    print(total([int(a) for a in sys.argv[1:]]))\n')
    texts = [t for _, t in host_texts()] + [t for _, t in repo_texts()] + [idioms]
    results = matched(index, texts)
    flagged = [(i, [(m.task_id, m.matcher, m.score) for m in ms]) for i, ms in enumerate(results) if ms]
    assert not flagged


@pytest.mark.parametrize("matcher, kinds", [
    ("ngram", ("verbatim", "reindented", "commented", "embedded")),
    ("substring", ("verbatim", "reindented", "embedded")),
    ("minhash", ("verbatim", "reindented", "renamed", "commented", "embedded")),
    ("embedding", ("verbatim", "reindented")),
])
def test_each_matcher_alone(single_indexes, matcher: str, kinds: tuple[str, ...]) -> None:
    index = single_indexes[matcher]
    for kind in kinds:
        texts, tasks = planted_corpus(kind)
        if matcher == "embedding":  # one window ~ one benchmark field: the prompt, lightly wrapped
            prompts = [load_items(REGISTRY["humaneval"])[t].segments[0][2] for t in TASKS]
            texts = [variant(p, kind) + "\n    pass\n" for p in prompts]
        results = matched(index, texts)
        assert all(m.matcher == matcher for ms in results for m in ms)
        found = sum(any(m.task_id == t for m in ms) for ms, t in zip(results, tasks, strict=True))
        assert found >= 8, (matcher, kind, found)
    clean = matched(index, [t for _, t in host_texts()])
    assert not any(clean), matcher


def test_renamed_copy_is_caught_by_minhash_only(single_indexes) -> None:
    texts, tasks = planted_corpus("renamed")
    ngram = matched(single_indexes["ngram"], texts)
    fuzzy = matched(single_indexes["minhash"], texts)
    # renaming breaks the code n-grams (only the untouched docstring may still match) but not the abstract shingles
    code_by_ngram = sum(any(m.field == "canonical_solution" for m in ms) for ms in ngram)
    by_minhash = sum(any(m.task_id == t for m in ms) for ms, t in zip(fuzzy, tasks, strict=True))
    assert by_minhash >= 8 and code_by_ngram < by_minhash, (by_minhash, code_by_ngram)


def test_short_items_are_matched_by_exact_substring_only(tmp_path) -> None:
    p = tmp_path / "short.jsonl"
    p.write_text('{"task_id": "s1", "q": "Compute the area of a circle of radius seven meters now"}\n'
                 '{"task_id": "s2", "q": "tiny item"}\n', encoding="utf-8")
    index = build_index([parse_user_benchmark(f"short={p}:q@prose")], MatchConfig())
    assert index.short_segments() == 2
    assert index.benchmarks[0]["short_segments"] == 2
    res = matched(index, ["Homework: compute the AREA of a circle, of radius seven meters now! Thanks.",
                          "a tiny item here", "compute the area of a square of side seven meters"])
    assert [[(m.task_id, m.matcher) for m in ms] for ms in res] == [[("s1", "substring")], [], []]


def test_null_and_very_long_records(index) -> None:
    task, code = humaneval(33)
    host = "\n".join(t for _, t in host_texts())
    long_text = (host * (int(2.5 * PIECE_CHARS) // len(host) + 1))
    long_text = plant(long_text, code, at=0.995)  # near the end, after two piece cuts
    res = matched(index, [None, long_text, ""])
    assert res[0] == [] and res[2] == []
    ms = [m for m in res[1] if m.task_id == task and m.matcher == "ngram"]
    assert ms and ms[0].score == 1.0
    assert long_text[ms[0].start:ms[0].end].strip().startswith(code.strip()[:20])


def test_prose_benchmark_in_a_document(index) -> None:
    gsm = load_items(REGISTRY["gsm8k"])[5]
    question = gsm.segments[0][2]
    doc = ("Today on the blog we look at word problems. " * 20 + "\n\n" + question.upper().replace(",", " ,")
           + "\n\nLeave your answer in the comments. " * 10)
    res = matched(index, [doc])[0]
    assert any(m.benchmark == "gsm8k" and m.task_id == gsm.task_id and m.field == "question" for m in res)


def test_matchers_are_deterministic(index) -> None:
    texts, _ = planted_corpus("embedded")
    a = [[vars(m) for m in ms] for ms in matched(index, texts)]
    b = [[vars(m) for m in ms] for ms in matched(index, list(reversed(texts)))]
    assert a == list(reversed(b))
    assert set(MATCHERS) >= {m["matcher"] for ms in a for m in ms}


def test_minhash_window_lies_on_a_renamed_copy_deep_in_a_long_file(single_indexes) -> None:
    # the MinHash windows only cover the region around the pre-filter's hits, counted in blocks of the whole
    # piece: the reported window must still be where the copy is, far into a long host file
    hosts = host_texts()
    big = max(hosts, key=lambda h: len(h[1]))[1]
    assert len(big) > 50_000
    for j, t in enumerate(TASKS[:4]):
        task, code = humaneval(t)
        copy = variant(code, "renamed")
        text = plant(big, copy, at=0.6 + 0.1 * j)
        at = text.find(copy)
        assert at > 30_000
        ms = [m for m in matched(single_indexes["minhash"], [text])[0] if m.task_id == task]
        assert ms, task
        assert ms[0].start < at + len(copy) and ms[0].end > at, (task, ms[0].start, ms[0].end, at, at + len(copy))
