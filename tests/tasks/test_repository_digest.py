"""The repository digest: sections, budget shares, focus order, cut and omitted files; the task instructions."""

from __future__ import annotations

from lsp_server.analysis.symbols import Definition
from lsp_server.analysis.tokens import estimate_tokens
from lsp_server.tasks.repository import (
    SourceFile,
    build_digest,
    changed_files,
    fence_for,
    number_lines,
    source_lines,
    split_diff,
    task_instruction,
)
from routing.tasks import TaskKind
from tests.tasks.recorded import DB_PY, UTIL_PY


def _definition(name: str, line: int, signature: str, container: str = "") -> Definition:
    return Definition(name, "function", "/r/app/db.py", line, 0, line + 2, 0, 0, 10, signature, container=container)


FILES = [
    SourceFile(
        "/r/app/db.py",
        "app/db.py",
        "python",
        (_definition("find_user", 4, "def find_user(conn, name)"), _definition("all_names", 9, "def all_names(conn)")),
    ),
    SourceFile("/r/app/util.py", "app/util.py", "python"),
]
TEXTS = {"/r/app/db.py": DB_PY, "/r/app/util.py": UTIL_PY}


def test_repository_digest_has_every_section_in_order() -> None:
    digest = build_digest(FILES, TEXTS.get, budget=10_000, header="Repository: r")
    assert digest.text == (
        "Repository: r\n\n"
        "## Files (2)\n- app/db.py (python)\n- app/util.py (python)\n\n"
        "## Outline (definitions, 1-based lines)\n"
        "app/db.py:\n  L5 def find_user(conn, name)\n  L10 def all_names(conn)\n\n"
        "## Contents (numbered lines)\n"
        f"### app/db.py\n```python\n{number_lines(DB_PY)}\n```\n\n"
        f"### app/util.py\n```python\n{number_lines(UTIL_PY)}\n```"
    )
    assert digest.included == ("app/db.py", "app/util.py")
    assert (digest.cut, digest.omitted, digest.truncated, digest.listed) == ((), (), False, 2)
    assert digest.tokens == estimate_tokens(digest.text)


def test_numbered_lines_are_what_an_editor_counts() -> None:
    assert number_lines("a\r\nb\n") == "1| a\n2| b"
    assert number_lines("\n".join(["x"] * 10)).splitlines()[9] == "10| x"
    assert source_lines("a\n\nb") == ["a", "", "b"]
    assert source_lines("") == []


def test_focus_comes_first_and_others_are_left_out_of_a_file_scope() -> None:
    digest = build_digest(FILES, TEXTS.get, budget=10_000, focus=["/r/app/util.py"], include_others=False)
    assert digest.included == ("app/util.py",)
    assert "### app/db.py" not in digest.text and "## Files (2)" in digest.text


def test_contents_that_do_not_fit_are_omitted_whole() -> None:
    big = SourceFile("/r/big.py", "big.py", "python")
    texts = {**TEXTS, "/r/big.py": "x = 1\n" * 2_000}
    digest = build_digest([*FILES, big], texts.get, budget=700)
    assert digest.included == ("app/db.py", "app/util.py")
    assert digest.omitted == ("big.py",) and digest.truncated
    assert "### big.py" not in digest.text
    assert digest.tokens <= 700


def test_a_focus_file_too_large_alone_is_cut_at_a_line_and_says_so() -> None:
    big = SourceFile("/r/big.py", "big.py", "python")
    texts = {"/r/big.py": "".join(f"value_{i} = {i}\n" for i in range(3_000))}
    digest = build_digest([big], texts.get, budget=2_000, focus=["/r/big.py"], include_others=False)
    assert digest.cut == ("big.py",) and digest.included == ("big.py",) and digest.truncated
    shown = [line for line in digest.text.splitlines() if "| value_" in line]
    assert shown[0].endswith("1| value_0 = 0") and len(shown) < 3_000
    assert f"… cut here: lines {len(shown) + 1}-3000 are not shown" in digest.text
    assert digest.tokens <= 2_000


def test_the_file_list_and_the_diff_are_capped_by_their_shares() -> None:
    many = [SourceFile(f"/r/pkg/module_{i:03}.py", f"pkg/module_{i:03}.py") for i in range(500)]
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n" + "".join(f"+line {i}\n" for i in range(5_000))
    digest = build_digest(many, lambda _: None, budget=4_000, diff=diff)
    files_section = digest.text.split("## Diff")[0]
    assert estimate_tokens(files_section) <= 4_000 * 0.10 + 20
    assert files_section.rstrip().endswith("more files")
    assert "… diff cut here (" in digest.text and digest.truncated
    assert estimate_tokens(digest.text) <= 4_000


def test_fences_outgrow_backticks_in_the_content() -> None:
    assert fence_for("plain") == "```"
    assert fence_for("a ```` b") == "`````"
    digest = build_digest([FILES[1]], {"/r/app/util.py": 'DOC = """```py\nx\n```"""\n'}.get, budget=1_000)
    assert "````python\n1| DOC" in digest.text


def test_changed_files_of_a_unified_diff() -> None:
    diff = (
        "diff --git a/app/db.py b/app/db.py\n--- a/app/db.py\n+++ b/app/db.py\n@@ -1 +1 @@\n-x\n+y\n"
        "diff --git a/old.py b/old.py\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        'diff --git "a/sp ace.py" "b/sp ace.py"\n--- /dev/null\n+++ "b/sp ace.py"\n@@ -0,0 +1 @@\n+z\n'
        "--- a/app/db.py\t2024-01-01\n+++ b/app/db.py\t2024-01-02\n"
    )
    assert changed_files(diff) == ["app/db.py", "sp ace.py"]


def test_split_diff_per_file() -> None:
    git = (
        "diff --git a/app/db.py b/app/db.py\n--- a/app/db.py\n+++ b/app/db.py\n@@ -1 +1 @@\n-x\n+y\n"
        "diff --git a/secrets/k.py b/secrets/k.py\ndeleted file mode 100644\n--- a/secrets/k.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n--- not a header\n"
    )
    assert split_diff(git) == [
        ("app/db.py", "diff --git a/app/db.py b/app/db.py\n--- a/app/db.py\n+++ b/app/db.py\n@@ -1 +1 @@\n-x\n+y\n"),
        ("secrets/k.py", git[git.index("diff --git a/secrets") :]),
    ]
    plain = "notes\n--- x.py\t2024\n+++ x.py\t2024\n@@ -1 +1 @@\n-a\n+b\n--- y.py\n+++ y.py\n@@ -1 +1 @@\n-c\n+d\n"
    assert [(path, chunk.count("\n")) for path, chunk in split_diff(plain)] == [("x.py", 5), ("y.py", 5)]
    assert split_diff("just text\n") == []


def test_instructions_ask_for_the_format_each_task_is_parsed_with() -> None:
    review = task_instruction(TaskKind.REVIEW, "  focus on error handling ")
    assert "```json" in review and '"replacement"' in review and '"end_line"' in review
    assert review.endswith("The user adds: focus on error handling")
    assert "CWE" in task_instruction(TaskKind.SECURITY)
    architecture = task_instruction(TaskKind.ARCHITECTURE)
    assert "```json" not in architecture and "Markdown document" in architecture
    assert "File: <relative path>" in task_instruction(TaskKind.TESTS)
