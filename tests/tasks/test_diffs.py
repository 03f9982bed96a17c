"""Unified diffs: parsing per file, placing hunks by content, refusing hunks that do not apply."""

from __future__ import annotations

import pytest

from lsp_server.tasks.diffs import DiffError, apply_diff, parse_diff

TEXT = "def total(a, b):\n    return add(a, b)\n\n\ndef twice(x):\n    return total(x, x)\n"


def test_apply_with_wrong_line_numbers() -> None:
    diff = (
        "@@ -40,2 +40,3 @@\n def twice(x):\n-    return total(x, x)\n+    doubled = total(x, x)\n+    return doubled\n"
    )
    assert apply_diff(TEXT, diff) == TEXT.replace(
        "    return total(x, x)\n", "    doubled = total(x, x)\n    return doubled\n"
    )


def test_two_hunks_and_trailing_whitespace_tolerance() -> None:
    diff = (
        "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def total(a, b):   \n-    return add(a, b)\n+    return a + b\n"
        "@@ -5,2 +5,2 @@\n def twice(x):\n-    return total(x, x)\n+    return 2 * x\n"
    )
    assert apply_diff(TEXT, diff) == "def total(a, b):\n    return a + b\n\n\ndef twice(x):\n    return 2 * x\n"


def test_nearest_occurrence_to_the_hunk_header_wins() -> None:
    text = "x = 1\ny = 2\nx = 1\ny = 2\n"
    assert apply_diff(text, "@@ -3,2 +3,2 @@\n x = 1\n-y = 2\n+y = 3\n") == "x = 1\ny = 2\nx = 1\ny = 3\n"
    assert apply_diff(text, "@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n") == "x = 1\ny = 3\nx = 1\ny = 2\n"


def test_hunk_that_does_not_match_is_an_error() -> None:
    with pytest.raises(DiffError, match="hunk 1 does not apply: the line 'return add\\(x, y\\)' is not in the code"):
        apply_diff(TEXT, "@@ -1,2 +1,2 @@\n def total(a, b):\n-    return add(x, y)\n+    return x + y\n")


def test_diff_without_hunks_or_with_garbage_is_an_error() -> None:
    with pytest.raises(DiffError, match="no hunks"):
        apply_diff(TEXT, "--- a/m.py\n+++ b/m.py\n")
    with pytest.raises(DiffError, match="not part of a hunk"):
        apply_diff(TEXT, "@@ -1,2 +1,2 @@\n def total(a, b):\nreturn 1\n")


def test_multi_file_diff_and_new_file() -> None:
    files = parse_diff(
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n"
    )
    assert [(f.old_path, f.new_path, f.path) for f in files] == [("a.py", "a.py", "a.py"), (None, "new.py", "new.py")]
    assert apply_diff("", "@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n") == "x = 1\ny = 2\n"


def test_bare_plus_minus_lines_form_one_hunk() -> None:
    assert apply_diff(TEXT, " def twice(x):\n-    return total(x, x)\n+    return 2 * x\n").endswith(
        "    return 2 * x\n"
    )
