"""Renames: reading suggestions and editing every identifier occurrence through the tree."""

from __future__ import annotations

from lsp_server.analysis.languages import new_parser
from lsp_server.tasks.edits import Replacement, apply_replacements
from lsp_server.tasks.naming import Rename, parse_renames, plan_renames


def test_parse_renames_in_the_spellings_models_use() -> None:
    answer = (
        "Suggestions:\n"
        "- `x` -> `count`: says what it holds\n"
        "2. **tmp** → **buffer** — clearer\n"
        "fn => parse_line\n"
        "x -> other\n"  # a second suggestion for x is ignored
        "same -> same\n"
        "Not a rename line -> at all\n"
    )
    assert parse_renames(answer) == [
        Rename("x", "count", "says what it holds"),
        Rename("tmp", "buffer", "clearer"),
        Rename("fn", "parse_line", ""),
    ]
    assert parse_renames("none") == []


def test_every_identifier_occurrence_but_not_strings_or_comments() -> None:
    source = b'def f(x):\n    # x is the input\n    y = x + 1\n    return "x", y\n'
    tree = new_parser("python").parse(source)
    plan = plan_renames(tree.root_node, source, [Rename("x", "value"), Rename("y", "result")])
    assert plan.replacements == (
        Replacement(6, 7, "value"),
        Replacement(35, 36, "result"),
        Replacement(39, 40, "value"),
        Replacement(61, 62, "result"),
    )
    assert apply_replacements(source, plan.replacements) == (
        b'def f(value):\n    # x is the input\n    result = value + 1\n    return "x", result\n'
    )
    assert plan.skipped == ()


def test_renames_that_cannot_be_made_are_skipped_with_a_reason() -> None:
    source = b"const a = 1;\nconst b = a + 1;\n"
    tree = new_parser("javascript").parse(source)
    plan = plan_renames(
        tree.root_node, source, [Rename("a", "b"), Rename("zz", "q"), Rename("b", "9x"), Rename("b", "c")]
    )
    assert plan.applied == (Rename("b", "c"),)
    assert plan.replacements == (Replacement(19, 20, "c"),)
    assert plan.skipped == (
        "a -> b: `b` is already used in this file",
        "zz -> q: `zz` is not a name in this file",
        "b -> 9x: not a valid identifier",
    )
