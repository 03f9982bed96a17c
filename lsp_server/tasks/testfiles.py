"""Where generated tests go: the language's usual test file next to, or beside, the source file.

| language | test file |
| --- | --- |
| python | ``<root>/tests/test_<stem>.py`` when ``<root>/tests`` exists, else ``test_<stem>.py`` beside the file |
| javascript, typescript, tsx | ``<stem>.test.<ext>`` beside the file |
| go | ``<stem>_test.go`` beside the file |
| rust | ``<root>/tests/<stem>.rs`` (an integration test) |
| java, kotlin | ``<Stem>Test.<ext>``, under ``src/test/`` when the file is under ``src/main/`` |
| ruby | ``<root>/spec/<stem>_spec.rb`` when ``spec`` exists, else ``<root>/test/<stem>_test.rb`` |
| csharp, php | ``<Stem>Tests.cs`` / ``<Stem>Test.php`` beside the file |
| other | ``test_<name>`` beside the file |

A file that is already a test file is its own test file (tests are appended).
"""

from __future__ import annotations

from pathlib import Path


def _is_test_file(path: Path) -> bool:
    stem = path.stem
    return (
        stem.startswith("test_")
        or stem.endswith(("_test", "_spec", ".test", ".spec", "Test", "Tests"))
        or (path.suffix == ".rs" and path.parent.name == "tests")
    )


def path_for_tests(path: Path, language: str | None, root: Path | None) -> Path:
    """The test file for the source file ``path`` (absolute) in the workspace ``root``."""
    if _is_test_file(path):
        return path
    base = root or path.parent
    stem, suffix = path.stem, path.suffix
    if language == "python":
        tests = base / "tests"
        return tests / f"test_{stem}.py" if tests.is_dir() else path.with_name(f"test_{stem}.py")
    if language in ("javascript", "typescript", "tsx"):
        return path.with_name(f"{stem}.test{suffix}")
    if language == "go":
        return path.with_name(f"{stem}_test.go")
    if language == "rust":
        return base / "tests" / f"{stem}.rs"
    if language in ("java", "kotlin"):
        name = f"{stem[:1].upper()}{stem[1:]}Test{suffix}"
        parts = path.parts
        for i in range(len(parts) - 1):
            if parts[i] == "src" and parts[i + 1] == "main":
                return Path(*parts[:i], "src", "test", *parts[i + 2 : -1], name)
        return path.with_name(name)
    if language == "ruby":
        if (base / "spec").is_dir():
            return base / "spec" / f"{stem}_spec.rb"
        return base / "test" / f"{stem}_test.rb"
    if language == "csharp":
        return path.with_name(f"{stem}Tests.cs")
    if language == "php":
        return path.with_name(f"{stem}Test.php")
    return path.with_name(f"test_{path.name}")
