"""Hover and completion markup: Markdown for clients that list it, plain text without Markdown or HTML otherwise."""

from __future__ import annotations

import re

from lsprotocol import types

from lsp_server.markup import fenced, plain_text, with_footer

ANSWER = """# What it does

Adds **two** numbers `a` and _b_; see [the docs](https://example.com/add) or <sub>the note</sub>.

```python
def add(a, b):
    return a + b
```

---

- first point
- second point

1. step one
2. step two
"""

#: Markdown a plain-text client would show raw: fences, emphasis, headings, rules, HTML tags, link syntax.
MARKDOWN_SYNTAX = re.compile(r"```|\*\*|(?<!\w)_\w|^#|^---|<[a-z/]+>|\]\(", re.MULTILINE)


def test_plain_text_keeps_the_words_and_the_code_without_markdown() -> None:
    text = plain_text(ANSWER)
    assert MARKDOWN_SYNTAX.search(text) is None, text
    first = "What it does\n\nAdds two numbers a and b; see the docs (https://example.com/add) or the note."
    assert text.startswith(first)
    assert "    def add(a, b):\n        return a + b" in text
    assert "- first point\n- second point" in text and "1. step one\n2. step two" in text


def test_with_footer_in_the_kind_the_client_lists() -> None:
    markdown = with_footer(ANSWER, "via local · m", ("markdown", "plaintext"))
    assert markdown.kind == types.MarkupKind.Markdown
    assert markdown.value == ANSWER + "\n\n---\n<sub>via local · m</sub>"
    for formats in (("plaintext",), ()):
        plain = with_footer(ANSWER, "via local · m", formats)
        assert plain.kind == types.MarkupKind.PlainText
        assert plain.value.endswith("2. step two\n\nvia local · m")
        assert MARKDOWN_SYNTAX.search(plain.value) is None
    assert with_footer("_no explanation_", "", ()).value == "no explanation"


def test_a_fence_outlasts_the_backticks_in_the_code() -> None:
    assert fenced("x = 1\n", "python") == "```python\nx = 1\n```"
    assert fenced("s = '```'", None) == "````\ns = '```'\n````"
    assert plain_text(fenced("s = '```'", None)) == "    s = '```'"
