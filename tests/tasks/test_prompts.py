"""The answer format in the prompt: the tests action's single file, the test suite's several files."""

from __future__ import annotations

import pytest

from lsp_server.analysis.context import AssembledContext
from lsp_server.tasks.findings import parse_generated_files
from lsp_server.tasks.prompts import (
    ANSWER_FORMATS,
    build_generation_request,
    split_answer_format,
    with_answer_format,
)
from lsp_server.tasks.repository import SUITE_FORMAT, task_instruction
from routing.tasks import TaskKind
from tests.tasks import recorded

CONTEXT = AssembledContext("", "", (), False, 0, 0, None, "", "", 0, 0)


def prompt(task: TaskKind, instruction: str, focus: str = "CODE") -> str:
    request = build_generation_request(
        task,
        "r-1",
        CONTEXT,
        language="python",
        focus_text=focus,
        instruction=instruction,
        max_tokens=100,
    )
    return request.messages[-1].content


def test_the_tests_action_keeps_its_single_file_format() -> None:
    text = prompt(TaskKind.TESTS, "The tests go in a new file, `test_main.py`.")
    # the code first (the stable prefix), then the instruction, its details and the answer format
    assert text.startswith("```python\nCODE\n```\n\n")
    assert text.endswith("Details: The tests go in a new file, `test_main.py`.\n\n" + ANSWER_FORMATS[TaskKind.TESTS])


def test_the_test_suite_format_replaces_the_single_file_format() -> None:
    instruction = task_instruction(TaskKind.TESTS, "cover errors", tests_path="tests/test_util.py")
    text = prompt(TaskKind.TESTS, instruction, focus="## Contents")
    assert ANSWER_FORMATS[TaskKind.TESTS] not in text and "exactly one fenced code block" not in text
    assert text.startswith("```python\n## Contents\n```\n\n")  # the code (digest) first: the cacheable prefix
    assert text.endswith(SUITE_FORMAT)  # the format comes last
    details = text[text.index("Details: ") : text.index(SUITE_FORMAT)]
    assert "Put the tests in `tests/test_util.py`." in details and "The user adds: cover errors" in details
    assert "Answer format" not in details


def test_split_answer_format() -> None:
    assert split_answer_format("Migration target: Python 3") == ("Migration target: Python 3", None)
    assert split_answer_format(with_answer_format("Details.", "Answer format: JSON.")) == (
        "Details.",
        "Answer format: JSON.",
    )
    assert split_answer_format(with_answer_format("", "Answer format: JSON.")) == ("", "Answer format: JSON.")
    with pytest.raises(ValueError, match="an answer format starts with"):
        with_answer_format("Details.", "Reply in JSON.")


def test_a_two_file_suite_answer_yields_two_files() -> None:
    parsed = parse_generated_files(recorded.TEST_SUITE_ANSWER, "tests/test_util.py")
    assert [f.path for f in parsed.files] == ["tests/test_util.py", "tests/test_db.py"]
    assert parsed.problems == ()
    assert parsed.files[1].content.endswith("    assert all_names(conn) == []\n")


def test_the_stable_prefix_ends_where_the_instruction_starts() -> None:
    request = build_generation_request(
        TaskKind.REVIEW,
        "r-1",
        CONTEXT,
        language="markdown",
        focus_text="## Contents",
        instruction="Review it.",
        max_tokens=100,
        cache_key="k",
    )
    text = request.messages[-1].content
    assert text[: request.stable_chars] == "```markdown\n## Contents\n```\n\n"
    assert text[request.stable_chars :].startswith("Review the code above") and request.cache_key == "k"
