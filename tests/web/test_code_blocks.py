"""Code blocks come out exactly as the page shows them, with a sensible language guess."""

from __future__ import annotations

import ast

import pytest

from codeflow.web import codelang
from codeflow.web import html as H

TRICKY = ("def f(x):\n\tif x:\n\t\treturn  {'a': [1,  2]}   \n\n        # 8 spaces, then blank lines\n\n\n"
          "    return x < 3 && y > 2\n")


def page(body: str) -> str:
    return f"<html><head><title>t</title></head><body><article>{body}</article></body></html>"


def blocks_of(body: str) -> list[H.CodeBlock]:
    return H.extract_code_blocks(H.parse(page(body)))


def escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_indentation_tabs_blank_lines_and_entities_are_exact():
    [b] = blocks_of(f'<pre class="language-python">\n{escape(TRICKY)}</pre>')
    assert b.content == TRICKY  # the newline right after <pre> is dropped, as browsers do
    assert (b.language, b.language_source) == ("python", "class")


def test_highlighter_spans_br_comments_and_gutters():
    html = ('<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>1\n2\n3</pre></div>'
            '</td><td class="code"><div class="highlight-java"><pre><span class="kd">public</span> <span>class'
            '</span> A {<br>    <span class="c">int</span> x;<!-- hidden --><br>}</pre></div></td></tr></table>')
    [b] = blocks_of(html)
    assert b.content == "public class A {\n    int x;\n}"
    assert b.language == "java"


def test_multiline_code_outside_pre_is_a_block_inline_code_is_prose():
    tree = H.parse(page("<p>Call <code>len(x)</code> here.</p><code class='lang-go'>package main\n\n"
                        "func main() {}\n</code>"))
    blocks = H.extract_code_blocks(tree)
    assert [b.tag for b in blocks] == ["code"] and blocks[0].language == "go"
    assert "Call len(x) here." in tree.text_content()


def test_sentinels_keep_code_in_place():
    tree = H.parse(page("<p>" + "Intro sentence about sorting lists in Python. " * 5 + "</p><pre>x = 1\n</pre>"
                        "<p>" + "Closing remark about what the code does here. " * 5 + "</p>"))
    blocks = H.extract_code_blocks(tree)
    parts = H.split_sentinels(H.extract_main_text(tree))
    assert 0 in parts and len(blocks) == 1
    assert isinstance(parts[0], str) and "Intro sentence" in parts[0]


@pytest.mark.parametrize(("classes", "expected"), [
    (["language-js"], "javascript"), (["highlight-python3 notranslate"], "python"), (["brush: cpp;"], "cpp"),
    (["sourceCode rust"], "rust"), (["prettyprint lang-ts"], "typescript"), (["highlight-default"], None),
    (["notranslate nohighlight"], None), (["hljs bash"], "shell"),
])
def test_language_from_classes(classes, expected):
    assert codelang.from_attributes(classes) == expected


@pytest.mark.parametrize(("code", "expected"), [
    ("import os\n\ndef main():\n    print(os.getcwd())\n", "python"),
    ("#include <iostream>\nint main() { std::cout << 1; }\n", "cpp"),
    ("fn main() {\n    let mut x = 1;\n    println!(\"{}\", x);\n}\n", "rust"),
    ("SELECT name FROM users WHERE id = 1;", "sql"),
    ("$ pip install codeflow\n", "shell"),
    ("hello world", None),
])
def test_language_from_content(code, expected):
    assert codelang.from_content(code) == expected
    assert codelang.guess(code, [])[1] == ("content" if expected else "none")


def test_sample_python_blocks_still_compile(sample_result):
    """Indentation survives on real pages: the non-interactive Python blocks of the docs compile."""
    blocks = [b for b in sample_result.blocks if b["language"] == "python" and ">>>" not in b["content"]
              and "..." not in b["content"]]
    assert len(blocks) > 50
    ok = 0
    for b in blocks:
        try:
            ast.parse(b["content"])
            ok += 1
        except SyntaxError:
            pass
    assert ok / len(blocks) > 0.85, ok / len(blocks)
