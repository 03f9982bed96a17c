"""The checks a cheap tier's answer must pass: generated tests that parse, findings that parse."""

from __future__ import annotations

from pathlib import Path

from lsp_server.tasks.answer_checks import findings_problem, generated_tests_problem
from lsp_server.tasks.gathering import Gathered
from lsp_server.tasks.repository import Digest

GOOD = "File: tests/test_util.py\n```python\ndef test_port():\n    assert int('80') == 80\n```\n"
BROKEN = "File: tests/test_util.py\n```python\ndef test_port(:\n    assert int('80') == 80\n```\n"
CUT = "File: tests/test_util.py\n```python\ndef test_port():\n"


def test_generated_tests_must_name_a_file_be_complete_and_parse() -> None:
    assert generated_tests_problem(GOOD, None) == ""
    assert generated_tests_problem(BROKEN, None).startswith("tests/test_util.py:1: ")
    assert "cut off" in generated_tests_problem(CUT, None)
    assert "no generated file" in generated_tests_problem("I would test the port parser.", None)


def test_findings_that_do_not_parse_fail_before_anything_is_located() -> None:
    empty = Gathered(Path("/nowhere"), [], [], True, "", [], {}, {})
    digest = Digest("", 0, 0, (), (), (), False)
    assert findings_problem("No JSON here.", digest, empty).startswith("the findings do not parse: ")
