"""HTML -> main text (trafilatura, precision-favouring) and byte-exact code blocks, from one parse.

Why code blocks come out *before* text extraction: trafilatura flattens ``<pre>`` (indentation and blank
lines are lost), and code is the point of this corpus. So each top-level ``<pre>`` (and each multi-line
``<code>`` outside one) is read exactly as a browser shows it, its language guessed from classes and
content, and then replaced in the tree by a one-line sentinel paragraph. trafilatura then extracts the main
text from the same tree (no second parse); sentinels that survive mark where the code sat, so the document
text can carry the exact code back in place, while quality filters see the prose alone.

Inline ``<code>`` (one line) is unwrapped into the surrounding text first: left as an element, trafilatura
breaks the sentence around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.etree as etree
import lxml.html

from codeflow.web import codelang

SENTINEL = "CFCODEBLOCK{:05d}ZQ"
SENTINEL_RE = re.compile(r"CFCODEBLOCK(\d{5})ZQ")
XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# Gutters with line numbers are not code.
SKIP_CLASS = re.compile(r"\b(linenos?|linenodiv|line-numbers-rows|gutter|lineno|copybutton)\b", re.I)


@dataclass
class CodeBlock:
    content: str
    language: str | None
    language_source: str  # class | content | none
    classes: str  # the class attributes the guess looked at, for audits
    tag: str  # pre | code


class HtmlError(ValueError):
    """The text is not parseable HTML."""


def parse(text: str) -> lxml.html.HtmlElement:
    text = XML_DECL.sub("", text, count=1)  # lxml refuses str input with an encoding declaration
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise HtmlError(str(e)[:200]) from e
    if tree is None:
        raise HtmlError("empty document")
    return tree


def _classes(el, levels: int = 3) -> list[str]:
    """Classes of the block, its single ``<code>`` child and up to ``levels`` ancestors (nearest first)."""
    out = []
    kids = [c for c in el if isinstance(c.tag, str)]
    if len(kids) == 1 and kids[0].tag == "code":
        out.append(kids[0].get("class", ""))
    node = el
    for _ in range(levels + 1):
        if node is None:
            break
        out.append(node.get("class", ""))
        node = node.getparent()
    return [c for c in out if c]


def _data_lang(el) -> str | None:
    for node in (el, *[c for c in el if isinstance(c.tag, str)][:1], el.getparent()):
        if node is not None:
            for attr in ("data-lang", "data-language", "lang"):
                if node.get(attr) and attr != "lang" or (attr == "lang" and node.tag in ("pre", "code")
                                                         and node.get(attr)):
                    return node.get(attr)
    return None


def code_text(el) -> str:
    """The text a browser shows for ``el``: entity-decoded, whitespace untouched, ``<br>`` as newlines,
    line-number gutters and comments skipped, and the one newline right after ``<pre>`` dropped (HTML spec)."""
    if not el.xpath("boolean(.//br | .//comment())") and not any(
            SKIP_CLASS.search(c) for c in el.xpath(".//@class", smart_strings=False)):
        # Fast path (C-level): no <br>, comments or gutters inside.
        text = etree.tostring(el, method="text", encoding="unicode", with_tail=False)
        return text[1:] if el.tag == "pre" and (el.text or "").startswith("\n") else text
    parts: list[str] = []

    def walk(node) -> None:
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            if not isinstance(child.tag, str):  # comment / processing instruction
                pass
            elif child.tag == "br":
                parts.append("\n")
            elif not SKIP_CLASS.search(child.get("class", "")):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    text = "".join(parts)
    if el.tag == "pre" and (el.text or "").startswith("\n"):
        text = text[1:]
    return text


def _replace_with_sentinel(el, index: int) -> None:
    p = lxml.html.Element("p")
    p.text = SENTINEL.format(index)
    p.tail = el.tail
    parent = el.getparent()
    if parent is not None:
        parent.replace(el, p)


def extract_code_blocks(tree) -> list[CodeBlock]:
    """Take code blocks out of ``tree`` (in document order), leaving sentinels; unwrap inline code."""
    blocks: list[CodeBlock] = []
    candidates = tree.xpath("//pre[not(ancestor::pre)] | //code[not(ancestor::pre) and not(ancestor::code)]")
    for el in candidates:
        if SKIP_CLASS.search(el.get("class", "")) or any(SKIP_CLASS.search(a.get("class", ""))
                                                          for a in el.iterancestors() if a.tag in ("td", "div")):
            el.drop_tree() if el.getparent() is not None else None
            continue
        text = code_text(el)
        if el.tag == "code" and "\n" not in text.strip("\n"):
            el.drop_tag()  # inline code: keep it as words of the sentence
            continue
        classes = _classes(el)
        lang, source = codelang.guess(text, classes, _data_lang(el))
        _replace_with_sentinel(el, len(blocks))
        blocks.append(CodeBlock(text, lang, source, " ".join(classes)[:300], el.tag))
    return blocks


def extract_main_text(tree, favor_precision: bool = True) -> str:
    """trafilatura's main-text extraction on the (already parsed) tree; '' when it finds nothing."""
    import trafilatura

    # deduplicate=False on purpose: trafilatura's dedup is a process-global LRU of seen segments, so with it a
    # page's text would depend on which pages the same worker saw before (order- and engine-dependent output).
    try:
        text = trafilatura.extract(tree, favor_precision=favor_precision, include_comments=False,
                                   include_tables=True, deduplicate=False, output_format="txt")
    except Exception:  # noqa: BLE001 - trafilatura raises assorted errors on odd trees; treat as empty
        return ""
    return text or ""


def extract_page(text: str, favor_precision: bool = True) -> tuple[list[CodeBlock], str] | str:
    """Parse, take the code blocks out, extract the main text: (blocks, text), or the parse error as a str.

    One picklable call for the whole C-heavy part of a page, so it can run in a killable worker process
    (``codeflow.web.isolate``); the error comes back as a value, not an exception, to cross the pipe as data.
    """
    try:
        tree = parse(text)
    except HtmlError as e:
        return str(e) or "unparseable HTML"
    blocks = extract_code_blocks(tree)
    return blocks, extract_main_text(tree, favor_precision)


def split_sentinels(text: str) -> list[str | int]:
    """Split extracted text into prose segments (str) and code block indices (int), in order."""
    out: list[str | int] = []
    pos = 0
    for m in SENTINEL_RE.finditer(text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        out.append(int(m.group(1)))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out
