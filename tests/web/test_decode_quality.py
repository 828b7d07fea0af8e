"""Charset decisions and the quality heuristics, each on text made to pass or fail it."""

from __future__ import annotations

import pytest

from codeflow.web import quality
from codeflow.web.config import C4Config, FineWebConfig, GopherConfig
from codeflow.web.decode import DecodeFailure, decode_payload

GOOD = ("The tutorial explains how to sort a list in Python, and why the key function matters.\n"
        "It shows that sorting is stable, so records with equal keys keep their original order.\n"
        "You can sort by several keys with a tuple, and reverse the order with one flag.\n") * 3


def test_lying_latin1_header_over_utf8_body():
    body = "naïve café — ünïcode".encode()
    text, charset, how = decode_payload(body, "iso-8859-1")
    assert text == "naïve café — ünïcode" and how == "utf-8"


def test_declared_charset_used_when_bytes_agree():
    text, charset, how = decode_payload("café".encode("cp1252"), "windows-1252")
    assert text == "café" and how == "http"


def test_meta_charset_and_unknown_declared_name():
    body = b'<html><head><meta charset="koi8-r"></head><body>' + "Привет мир".encode("koi8_r") + b"</body>"
    text, charset, how = decode_payload(body, "no-such-charset")
    assert "Привет мир" in text and how == "meta"


def test_invalid_utf8_few_bytes_are_replaced_many_are_rejected():
    ok = ("x" * 2000).encode() + b"\xff" + b" tail"
    text, _, how = decode_payload(ok, None)
    assert how in ("utf-8-replace", "detected") and text.endswith(" tail")
    with pytest.raises(DecodeFailure):
        decode_payload(bytes(range(128, 256)) * 200 + b"\x00\x01" * 500, "utf-8")


def test_gopher_quality():
    cfg = GopherConfig()
    assert quality.gopher_quality(GOOD, quality.words_of(GOOD), cfg) is None
    short = "Too short to be a document."
    assert quality.gopher_quality(short, quality.words_of(short), cfg).startswith("words=")
    no_stop = " ".join(["alpha beta gamma delta"] * 30)
    assert quality.gopher_quality(no_stop, quality.words_of(no_stop), cfg).startswith("stop_words")
    hashes = GOOD + " #tag" * 40
    assert quality.gopher_quality(hashes, quality.words_of(hashes), cfg).startswith("symbol_word_ratio")


def test_gopher_repetition():
    cfg = GopherConfig()
    assert quality.gopher_repetition(GOOD.split("\n")[0], quality.words_of(GOOD.split("\n")[0]), cfg) is None
    assert quality.gopher_repetition(GOOD, quality.words_of(GOOD), cfg).startswith("dup_")


def test_c4_quality():
    cfg = C4Config()
    assert quality.c4_quality(GOOD, [], cfg) is None
    assert quality.c4_quality("Lorem ipsum dolor sit amet.", [], cfg) == "lorem_ipsum"
    assert quality.c4_quality("a {dict} literal.", [], cfg) is None  # curly-bracket rule off for code prose
    assert quality.c4_quality("a {dict} literal.", [], C4Config(filter_curly_bracket=True)) == "curly_bracket"


def test_fineweb_quality():
    cfg = FineWebConfig()
    text = GOOD.split("\n")[0] + "\n" + GOOD.split("\n")[1]
    assert quality.fineweb_quality(text, quality.words_of(text), cfg) is None
    menu = "\n".join(["Home", "Docs", "Blog", "About us", "A long enough line that ends properly."])
    assert quality.fineweb_quality(menu, quality.words_of(menu), cfg).startswith("short_line_ratio")
    nopunct = "\n".join(["a line with no terminal punctuation at all here"] * 1 + [f"line {i} xx yy zz" for i in
                                                                                 range(9)])
    assert quality.fineweb_quality(nopunct, quality.words_of(nopunct), cfg).startswith("line_punct_ratio")


def test_first_failure_runs_in_order():
    cfgs = {"gopher": GopherConfig(), "c4": C4Config(), "fineweb": FineWebConfig()}
    assert quality.first_failure(GOOD, ("c4_quality",), cfgs) is None
    assert quality.first_failure(GOOD, ("gopher_repetition", "c4_quality"), cfgs)[0] == "gopher_repetition"
