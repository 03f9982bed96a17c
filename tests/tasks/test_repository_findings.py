"""Reading recorded answers: findings (well-formed, aliased, malformed, truncated), generated files, documents."""

from __future__ import annotations

import pytest

from lsp_server.tasks.findings import (
    Finding,
    GeneratedFile,
    LocatedFinding,
    MalformedAnswerError,
    fenced_blocks,
    locate,
    markdown_document,
    parse_findings,
    parse_generated_files,
    safe_relative_path,
)
from tests.tasks import recorded

INJECTION_FIX = (
    '    query = "SELECT id, name FROM users WHERE name = ?"\n    return conn.execute(query, (name,)).fetchone()'
)


def test_a_well_formed_review() -> None:
    parsed = parse_findings(recorded.REVIEW_ANSWER)
    assert parsed.findings == (
        Finding(
            "app/db.py",
            6,
            7,
            "error",
            "SQL built with string formatting allows SQL injection.",
            "CWE-89",
            INJECTION_FIX,
        ),
        Finding(
            "app/util.py", 2, 2, "warning", "int() raises a bare ValueError on bad input; name the offending text."
        ),
        Finding("app/missing.py", 3, 3, "info", "A file the model invented."),
    )
    assert (parsed.problems, parsed.truncated) == ((), False)


def test_aliases_an_object_wrapper_and_severity_words() -> None:
    parsed = parse_findings(recorded.SECURITY_ANSWER)
    assert parsed.findings == (
        Finding(
            "./app/db.py",
            6,
            6,
            "error",
            "User input reaches the SQL text unescaped.",
            "CWE-89",
            '    query = "SELECT id, name FROM users WHERE name = ?"',
        ),
    )
    low = parse_findings(recorded.PERFORMANCE_ANSWER).findings[0]
    assert (low.severity, low.file, low.replacement) == ("info", "db.py", "        names.append(row[0])")


def test_unusable_entries_are_skipped_with_the_reason() -> None:
    answer = """```json
[{"file": "a.py", "line": 0, "message": "m"}, {"line": 3, "message": "m"}, "text", {"file": "a.py", "line": 2},
 {"file": "a.py", "line": 4, "end_line": 2, "severity": "bogus", "message": "  spaced\\n  out  "}]
```"""
    parsed = parse_findings(answer)
    assert parsed.findings == (Finding("a.py", 4, 4, "warning", "spaced out"),)
    assert parsed.problems == (
        "finding 1 (a.py): no valid line number",
        "finding 2: no file",
        "finding 3: not an object",
        "finding 4 (a.py:2): no message",
    )


def test_no_structured_block_is_a_clear_error() -> None:
    with pytest.raises(
        MalformedAnswerError, match=r"no ```json block of findings \(it reads: 'The code looks reasonable"
    ):
        parse_findings(recorded.NO_BLOCK_ANSWER)


def test_invalid_json_names_where() -> None:
    with pytest.raises(MalformedAnswerError, match=r"not valid JSON: Expecting ',' delimiter at line 1 column 80"):
        parse_findings(recorded.INVALID_JSON_ANSWER)


def test_a_truncated_block_keeps_the_complete_findings() -> None:
    parsed = parse_findings(recorded.TRUNCATED_ANSWER)
    assert parsed.findings == (
        Finding("app/db.py", 6, 7, "error", "SQL built with string formatting allows SQL injection."),
    )
    assert parsed.truncated
    assert parsed.problems == ("the findings block is cut off (the answer was truncated); 1 complete findings kept",)


def test_a_block_truncated_before_any_finding_is_an_error() -> None:
    with pytest.raises(MalformedAnswerError, match="cut off before its first complete finding"):
        parse_findings(recorded.TRUNCATED_EARLY_ANSWER)


def test_bare_arrays_and_empty_reviews() -> None:
    assert parse_findings('[{"file": "a.py", "line": 1, "message": "m"}]').findings == (
        Finding("a.py", 1, 1, "warning", "m"),
    )
    empty = parse_findings("Nothing to report.\n\n```json\n[]\n```\n")
    assert (empty.findings, empty.problems) == ((), ())
    with pytest.raises(MalformedAnswerError, match="holds str"):
        parse_findings('```json\n"no"\n```')


def test_fenced_blocks_report_an_unterminated_last_block() -> None:
    blocks = fenced_blocks("a\n```py\nx\n```\nb\n~~~~json\n[1,\n")
    assert [(b.info, b.body, b.closed) for b in blocks] == [("py", "x\n", True), ("json", "[1,\n", False)]


SHOWN = {"app/db.py": "/r/app/db.py", "app/util.py": "/r/app/util.py", "lib/util.py": "/r/lib/util.py"}
LINES = {"/r/app/db.py": 14, "/r/app/util.py": 2, "/r/lib/util.py": 5}


def test_locate_against_the_files_shown() -> None:
    def at(file: str, line: int, end: int | None = None) -> LocatedFinding | str:
        return locate(Finding(file, line, end or line, "error", "m"), SHOWN, LINES.get)

    assert at("app/db.py", 6, 7) == LocatedFinding(Finding("app/db.py", 6, 7, "error", "m"), "/r/app/db.py", 5, 6)
    assert isinstance(located := at("./app/db.py", 1), LocatedFinding) and located.path == "/r/app/db.py"
    assert isinstance(located := at("b/app/db.py", 1), LocatedFinding) and located.path == "/r/app/db.py"
    assert isinstance(located := at("db.py", 14), LocatedFinding) and located.path == "/r/app/db.py"
    assert isinstance(located := at("app/db.py", 13, 40), LocatedFinding) and located.end_line == 13
    assert at("util.py", 1) == "util.py:1: not a file the review was shown"  # two files end so
    assert at("app/missing.py", 3) == "app/missing.py:3: not a file the review was shown"
    assert at("app/util.py", 3) == "app/util.py:3: past the end of the file (2 lines)"
    assert locate(Finding("app/db.py", 1, 1, "error", "m"), SHOWN, lambda _: None) == (
        "app/db.py:1: the file cannot be read"
    )


def test_generated_files_with_each_header_style() -> None:
    parsed = parse_generated_files(recorded.TEST_SUITE_ANSWER)
    assert [f.path for f in parsed.files] == ["tests/test_util.py", "tests/test_db.py"]
    assert parsed.files[0].content.startswith("import pytest\n\nfrom app.util import parse_port\n")
    assert parsed.files[1].content.endswith("    assert all_names(conn) == []\n")
    info = parse_generated_files('```python title="tests/test_a.py"\nx = 1\n```\n')
    assert info.files == (GeneratedFile("tests/test_a.py", "x = 1\n"),)
    # names without an extension: with a folder, or after an explicit label (the file policy refuses them)
    bare = parse_generated_files(
        "File: .git/hooks/pre-commit\n```sh\nrm -rf ~\n```\n### Makefile\n```make\nall:\n```\n"
        "File: Makefile\n```make\nall:\n\techo hi\n```\n"
    )
    assert [(f.path, f.content) for f in bare.files] == [
        (".git/hooks/pre-commit", "rm -rf ~\n"),
        ("Makefile", "all:\n\techo hi\n"),  # "### Makefile" alone is a heading, not a file
    ]


def test_generated_files_outside_the_workspace_or_cut_off_are_skipped() -> None:
    answer = (
        "File: ../escape.py\n```python\nx\n```\n"
        "File: /etc/passwd.py\n```python\nx\n```\n"
        "File: tests/test_ok.py\n```python\nok = 1\n```\n"
        "File: tests/test_cut.py\n```python\ndef test_cut():\n    assert"
    )
    parsed = parse_generated_files(answer)
    assert parsed.files == (GeneratedFile("tests/test_ok.py", "ok = 1\n"),)
    assert parsed.problems == ("tests/test_cut.py: cut off (the answer was truncated); skipped",)
    assert parsed.unsafe == ("../escape.py", "/etc/passwd.py")  # the file policy says why they are refused
    only_unsafe = parse_generated_files("File: ../escape.py\n```python\nx\n```\n")
    assert only_unsafe.files == () and only_unsafe.unsafe == ("../escape.py",)
    with pytest.raises(MalformedAnswerError, match="no generated file: no `File: <path>` line"):
        parse_generated_files("Here is an example:\n```python\nx = 1\n```\n")
    assert safe_relative_path("tests\\unit\\t.py") == "tests/unit/t.py"
    assert safe_relative_path("C:/x.py") is None


def test_one_unnamed_block_becomes_the_default_test_file() -> None:
    parsed = parse_generated_files(recorded.SINGLE_TEST_FILE_ANSWER, "tests/test_util.py")
    assert parsed.files == (
        GeneratedFile(
            "tests/test_util.py",
            'from app.util import parse_port\n\n\ndef test_parse_port():\n    assert parse_port("80") == 80\n',
        ),
    )
    assert parsed.problems == ("the answer named no file; its one code block becomes tests/test_util.py",)
    with pytest.raises(MalformedAnswerError, match="no `File: <path>` line"):
        parse_generated_files(recorded.SINGLE_TEST_FILE_ANSWER)  # no default: nowhere to put it
    two = recorded.SINGLE_TEST_FILE_ANSWER + "\n```python\nmore = 1\n```\n"
    with pytest.raises(MalformedAnswerError):
        parse_generated_files(two, "tests/test_util.py")  # two unnamed blocks: which is the file?


def test_markdown_documents() -> None:
    assert markdown_document(recorded.ARCHITECTURE_ANSWER).startswith("# Architecture\n\n## Components\n")
    assert markdown_document(recorded.ARCHITECTURE_ANSWER).endswith("repository class.\n")
    assert markdown_document(recorded.DOCUMENTATION_ANSWER) == recorded.DOCUMENTATION_ANSWER
    assert markdown_document("```md\n# Cut off\nmid-sent") == "# Cut off\nmid-sent\n"
    with pytest.raises(MalformedAnswerError, match="empty"):
        markdown_document("```markdown\n```")
