"""Test file locations, migration targets, the hover cache and the ask-check-retry loop."""

from __future__ import annotations

from pathlib import Path

from lsp_server.tasks.answers import ParsedAnswer
from lsp_server.tasks.checked import checked_changes
from lsp_server.tasks.edits import AnswerError, FileChange, NoEdit
from lsp_server.tasks.hover_cache import CachedExplanation, ExplanationCache, explanation_key
from lsp_server.tasks.migration import migration_targets
from lsp_server.tasks.testfiles import existing_test_file, path_for_tests


def test_test_file_locations(tmp_path: Path) -> None:
    src = tmp_path / "pkg" / "calc.py"
    assert path_for_tests(src, "python", tmp_path) == tmp_path / "pkg" / "test_calc.py"
    (tmp_path / "tests").mkdir()
    assert path_for_tests(src, "python", tmp_path) == tmp_path / "tests" / "test_calc.py"
    assert (
        path_for_tests(tmp_path / "tests" / "test_calc.py", "python", tmp_path) == tmp_path / "tests" / "test_calc.py"
    )
    assert path_for_tests(tmp_path / "a.ts", "typescript", tmp_path) == tmp_path / "a.test.ts"
    assert path_for_tests(tmp_path / "a.go", "go", tmp_path) == tmp_path / "a_test.go"
    assert path_for_tests(tmp_path / "src" / "lib.rs", "rust", tmp_path) == tmp_path / "tests" / "lib.rs"
    java = tmp_path / "src" / "main" / "java" / "x" / "calc.java"
    assert path_for_tests(java, "java", tmp_path) == tmp_path / "src" / "test" / "java" / "x" / "CalcTest.java"
    assert path_for_tests(tmp_path / "a.rb", "ruby", tmp_path) == tmp_path / "test" / "a_test.rb"
    assert path_for_tests(tmp_path / "a.txt", None, tmp_path) == tmp_path / "test_a.txt"


def test_an_existing_test_file_of_the_module_is_found(tmp_path: Path) -> None:
    src = tmp_path / "pkg" / "calc.py"
    src.parent.mkdir()
    assert existing_test_file(src, "python", tmp_path) is None
    (tmp_path / "pkg" / "calc_test.py").write_text("", encoding="utf-8")  # not the usual name, but a test file
    assert existing_test_file(src, "python", tmp_path) == tmp_path / "pkg" / "calc_test.py"
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text("", encoding="utf-8")  # the usual one comes first
    assert existing_test_file(src, "python", tmp_path) == tmp_path / "tests" / "test_calc.py"
    (tmp_path / "calc.test.ts").write_text("", encoding="utf-8")  # not a Python test file
    assert existing_test_file(tmp_path / "other.py", "python", tmp_path) is None


def test_migration_targets_from_marker_comments() -> None:
    text = (
        "# hybrid-assist: migrate-to Python 3.12\n"
        "/* hybrid-assist: migrate-to ES modules */\n"
        "<!-- hybrid-assist: migrate-to Vue 3 -->\n"
        "# hybrid-assist: migrate-to Python 3.12\n"
    )
    assert migration_targets(text) == ["Python 3.12", "ES modules", "Vue 3"]
    assert migration_targets("# nothing here\n") == []


def test_hover_cache_is_an_lru_keyed_by_text_and_route() -> None:
    cache = ExplanationCache(size=2)
    k1 = explanation_key("python", "def f(): pass", "explain", "local", "m")
    assert k1 != explanation_key("python", "def f(): pass ", "explain", "local", "m")
    assert k1 != explanation_key("python", "def f(): pass", "explain", "openai", "m")
    k2, k3 = (explanation_key("python", t, "explain", "local", "m") for t in ("a", "b"))
    cache.put(k1, CachedExplanation("one", "via local"))
    cache.put(k2, CachedExplanation("two", "via local"))
    assert cache.get(k1) == CachedExplanation("one", "via local")  # k1 is now the most recent
    cache.put(k3, CachedExplanation("three", "via local"))
    assert cache.get(k2) is None and cache.get(k1) is not None and len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 1)


def _script(*answers: str | None) -> tuple[list[str], object]:
    asked: list[str] = []
    queue = list(answers)

    async def ask(extra: str) -> str | None:
        asked.append(extra)
        return queue.pop(0)

    return asked, ask


def _interpret(answer: ParsedAnswer) -> list[FileChange]:
    if answer.text == "bad":
        raise AnswerError("it is bad")
    if answer.text == "final":
        raise AnswerError("never", retry=False)
    if answer.text == "prose":
        raise NoEdit("no code")
    return [FileChange("file:///a", "", answer.text)]


async def test_retry_once_then_accept() -> None:
    asked, ask = _script("bad", "good")
    outcome = await checked_changes(ask, _interpret)  # type: ignore[arg-type]
    assert [c.new for c in outcome.changes] == ["good"] and outcome.attempts == 2
    assert asked[0] == "" and asked[1].startswith("Your previous answer was rejected: it is bad.")


async def test_refuse_after_the_retry_or_at_once() -> None:
    _, ask = _script("bad", "bad")
    outcome = await checked_changes(ask, _interpret)  # type: ignore[arg-type]
    assert outcome.changes == () and outcome.refused == "it is bad" and outcome.attempts == 2
    asked, ask = _script("final")
    outcome = await checked_changes(ask, _interpret)  # type: ignore[arg-type]
    assert outcome.refused == "never" and len(asked) == 1


async def test_prose_and_missing_answers() -> None:
    _, ask = _script("prose")
    outcome = await checked_changes(ask, _interpret)  # type: ignore[arg-type]
    assert outcome.no_edit == "no code" and outcome.answer == "prose" and outcome.attempts == 1
    _, ask = _script("bad", None)
    outcome = await checked_changes(ask, _interpret)  # type: ignore[arg-type]
    assert outcome.refused == "no answer" and outcome.reasons == ("it is bad",)
