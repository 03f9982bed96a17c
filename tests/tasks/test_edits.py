"""Answers to checked file changes: regions, indentation, syntax checks, appended tests, several files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lsp_server.tasks.answers import parse_answer
from lsp_server.tasks.edits import (
    AnswerError,
    FileChange,
    NoEdit,
    Replacement,
    appended_change,
    apply_replacements,
    file_changes,
    fit_indentation,
    narrow,
    new_syntax_problem,
    region_change,
    syntax_problems,
)
from lsp_server.tasks.file_policy import FilePolicy

WS_POLICY = FilePolicy.for_changes(Path("/ws"), {"python"}, [])  # /ws does not exist: every named file is new

SOURCE = b'class Greeter:\n    def greet(self, name):\n        return "hello " + name\n'
START = SOURCE.index(b"def greet")
END = len(SOURCE) - 1  # the unit ends before the final newline


def change(answer: str, language: str | None = "python") -> FileChange:
    return region_change(parse_answer(answer), "file:///m.py", SOURCE, START, END, language)


@pytest.mark.parametrize(
    "block",
    [
        "def greet(self, name):\n        return f'hi {name}'\n",  # as shown
        "    def greet(self, name):\n        return f'hi {name}'\n",  # first line indented like the file
        "def greet(self, name):\n    return f'hi {name}'\n",  # the whole block dedented
    ],
)
def test_region_replacement_keeps_the_file_indentation(block: str) -> None:
    result = change(f"```python\n{block}```")
    assert result.edits() == [Replacement(START + 23, END + 1, "        return f'hi {name}'\n")]
    assert result.new == "class Greeter:\n    def greet(self, name):\n        return f'hi {name}'\n"


def test_fit_indentation_without_indent_only_fixes_the_final_newline() -> None:
    assert fit_indentation("x = 1\n", "x = 2", "") == "x = 1"
    assert fit_indentation("x = 1\n", "x = 2\n", "") == "x = 1\n"


def test_new_syntax_error_is_refused_with_its_position() -> None:
    with pytest.raises(AnswerError) as info:
        change("```python\ndef greet(self, name:\n        return name\n```")
    assert info.value.retry
    assert info.value.reason.startswith("the edited file does not parse (python): line 2, column")


def test_unchanged_answer_and_prose_are_no_edit() -> None:
    with pytest.raises(NoEdit, match="unchanged"):
        change('```python\ndef greet(self, name):\n        return "hello " + name\n```')
    with pytest.raises(NoEdit, match="no code block"):
        change("It is fine.")


def test_truncated_and_bad_diff_are_retryable_errors() -> None:
    with pytest.raises(AnswerError, match="cut off inside a code block") as cut:
        change("```python\ndef greet(self, name):\n        return")
    assert cut.value.retry
    with pytest.raises(AnswerError, match="the diff does not apply"):
        change("```diff\n@@ -1 +1 @@\n-def greet(self, nom):\n+def greet(self, who):\n```")


def test_diff_against_the_region() -> None:
    result = change(
        '```diff\n def greet(self, name):\n-        return "hello " + name\n+        return "hi " + name\n```'
    )
    assert result.edits() == [Replacement(START + 23, END + 1, '        return "hi " + name\n')]


def test_plain_text_is_not_parse_checked() -> None:
    assert change("```\n(((\n```", language=None).new.endswith("    (((\n")


def test_only_new_errors_count() -> None:
    broken = b"def f(:\n    pass\n"
    assert syntax_problems("python", broken)
    assert new_syntax_problem("python", broken, broken + b"x = 1\n") is None
    problem = new_syntax_problem("python", broken, broken + b"y = (\n")
    assert problem is not None and problem.line == 2
    assert new_syntax_problem("python", None, b"ok = 1\n") is None
    assert syntax_problems("no-such-language", b"(((") == []


def test_narrow_finds_the_smallest_line_range() -> None:
    assert narrow("a\nb\nc\n", "a\nB\nc\n") == Replacement(2, 4, "B\n")
    assert narrow("a\n", "a\nb\n") == Replacement(2, 2, "b\n")
    assert narrow("é\nb\n", "é\nc\n") == Replacement(3, 5, "c\n")  # bytes, not characters
    assert apply_replacements(b"a b c", [Replacement(4, 5, "C"), Replacement(0, 1, "A")]) == b"A b C"


def test_appended_tests_create_or_extend() -> None:
    answer = parse_answer("```python\ndef test_x():\n    assert True\n```")
    created = appended_change(answer, "file:///t.py", None, "python")
    assert created.edits() == [Replacement(0, 0, "def test_x():\n    assert True\n")]
    extended = appended_change(answer, "file:///t.py", "import m\n", "python")
    assert extended.edits() == [Replacement(9, 9, "\n\ndef test_x():\n    assert True\n")]
    with pytest.raises(AnswerError, match="does not parse"):
        appended_change(parse_answer("```python\ndef test_x(:\n```"), "file:///t.py", None, "python")


class FakeFiles:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def uri_for(self, path: str) -> str | None:
        return None if path.startswith("..") else f"file:///ws/{path}"

    def read(self, uri: str) -> str | None:
        return self.files.get(uri)

    def language(self, uri: str) -> str | None:
        return "python" if uri.endswith(".py") else None


def test_file_changes_over_several_files() -> None:
    files = FakeFiles({"file:///ws/a.py": "def f():\n    return 1\n", "file:///ws/b.py": "from a import f\n"})
    answer = parse_answer(
        "File: a.py\n```python\ndef g():\n    return 1\n```\n"
        "```diff\n--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-from a import f\n+from a import g\n```\n"
        "File: c.py\n```python\nfrom a import g\n```\n"
    )
    changes, refused = file_changes(answer, "file:///ws/a.py", files, WS_POLICY)
    assert refused == []
    assert [(c.uri, c.old, c.new) for c in changes] == [
        ("file:///ws/a.py", "def f():\n    return 1\n", "def g():\n    return 1\n"),
        ("file:///ws/b.py", "from a import f\n", "from a import g\n"),
        ("file:///ws/c.py", None, "from a import g\n"),
    ]
    assert changes[2].edits() == [Replacement(0, 0, "from a import g\n")]


def test_file_changes_refuse_outside_paths_and_broken_files() -> None:
    files = FakeFiles({"file:///ws/a.py": "x = 1\n"})
    with pytest.raises(
        AnswerError, match=re.escape("every file the answer changes is refused: ../../etc/x.py: a path with `..`")
    ) as outside:
        file_changes(parse_answer("File: ../../etc/x.py\n```python\nx = 1\n```"), "file:///ws/a.py", files, WS_POLICY)
    assert not outside.value.retry
    with pytest.raises(AnswerError, match=r"edited a\.py file does not parse"):
        file_changes(parse_answer("```python\nx = (\n```"), "file:///ws/a.py", files, WS_POLICY)
    with pytest.raises(NoEdit):
        file_changes(parse_answer("```python\nx = 1\n```"), "file:///ws/a.py", files, WS_POLICY)


def test_crlf_files_stay_crlf() -> None:
    source = b"def f():\r\n    return 1\r\n"
    result = region_change(
        parse_answer("```python\ndef f():\n    return 2\n```"), "u", source, 0, len(source), "python"
    )
    assert result.edits() == [Replacement(10, 24, "    return 2\r\n")]
    appended = appended_change(parse_answer("```python\nx = 1\n```"), "u", "import m\r\n", "python")
    assert appended.new == "import m\r\n\r\n\r\nx = 1\r\n"


def test_syntax_problem_names_the_line() -> None:
    (problem,) = syntax_problems("python", b"x = 1\ny = foo(1,\n")
    assert problem.describe().startswith("line 2, column ")
    assert problem.describe().endswith("in `y = foo(1,`")
