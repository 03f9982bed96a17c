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
:func:`existing_test_file` finds a test file of a module that already exists
elsewhere (for an editor that cannot create files: the tests are appended there).

:func:`is_test_file` is the other direction, used to keep a generated test
suite in its lane (:mod:`lsp_server.tasks.file_policy`): a path is a test file
of its language when it follows that language's usual conventions:

| language | a test file |
| --- | --- |
| python | ``test_*.py``, ``*_test.py`` (pytest's defaults) |
| javascript, typescript, tsx | ``*.test.<ext>``, ``*.spec.<ext>``, or under ``__tests__/`` |
| go | ``*_test.go`` |
| rust | under a ``tests/`` folder (integration tests) |
| java, kotlin | ``*Test``, ``*Tests``, ``*IT``, ``Test*``, or under ``src/test/`` |
| ruby | ``*_spec.rb``, ``*_test.rb``, ``test_*.rb`` |
| csharp, php | ``*Test``, ``*Tests`` |
| c, cpp | ``test_*``, ``*_test``, ``*_unittest``, or under ``test/`` / ``tests/`` |
| other | any of the names above |
"""

from __future__ import annotations

from pathlib import Path, PurePath


def _is_test_file(path: PurePath) -> bool:
    stem = path.stem
    return (
        stem.startswith("test_")
        or stem.endswith(("_test", "_spec", ".test", ".spec", "Test", "Tests"))
        or (path.suffix == ".rs" and path.parent.name == "tests")
    )


#: How a language's test files are named, said when a file is refused for not being one.
TEST_NAMES: dict[str, str] = {
    "python": "test_*.py or *_test.py",
    "javascript": "*.test.js, *.spec.js or under __tests__/",
    "typescript": "*.test.ts, *.spec.ts or under __tests__/",
    "tsx": "*.test.tsx, *.spec.tsx or under __tests__/",
    "go": "*_test.go",
    "rust": "tests/*.rs",
    "java": "*Test.java, *Tests.java, *IT.java, Test*.java or under src/test/",
    "kotlin": "*Test.kt, *Tests.kt, *IT.kt, Test*.kt or under src/test/",
    "ruby": "*_spec.rb, *_test.rb or test_*.rb",
    "csharp": "*Test.cs or *Tests.cs",
    "php": "*Test.php or *Tests.php",
    "c": "test_*.c, *_test.c or under tests/",
    "cpp": "test_*.cpp, *_test.cpp, *_unittest.cpp or under tests/",
}


def is_test_file(path: str | PurePath, language: str | None) -> bool:
    """Whether the relative or absolute ``path`` is a test file by ``language``'s conventions (table above)."""
    pure = PurePath(path)
    stem, parts = pure.stem, pure.parts[:-1]
    if language == "python":
        return stem.startswith("test_") or stem.endswith("_test")
    if language in ("javascript", "typescript", "tsx"):
        return stem.endswith((".test", ".spec")) or "__tests__" in parts
    if language == "go":
        return stem.endswith("_test")
    if language == "rust":
        return "tests" in parts
    if language in ("java", "kotlin"):
        under_test = any(parts[i : i + 2] == ("src", "test") for i in range(len(parts) - 1))
        return under_test or stem.endswith(("Test", "Tests", "IT")) or stem.startswith("Test")
    if language == "ruby":
        return stem.endswith(("_spec", "_test")) or stem.startswith("test_")
    if language in ("csharp", "php"):
        return stem.endswith(("Test", "Tests"))
    if language in ("c", "cpp"):
        return stem.startswith("test_") or stem.endswith(("_test", "_unittest")) or bool({"test", "tests"} & set(parts))
    return _is_test_file(pure)


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


def existing_test_file(path: Path, language: str | None, root: Path | None) -> Path | None:
    """An existing test file of the source file ``path`` (absolute), or None.

    Looks for the test names of every convention above (``test_<stem>``,
    ``<stem>_test``, ``<stem>.test``, ``<Stem>Test``, ...) that are test files
    of ``language``, beside the file, in its ``tests``/``__tests__`` folder
    and in the workspace ``root``'s ``tests``/``test``/``spec`` folders, the
    usual path (:func:`path_for_tests`) first.
    """
    if _is_test_file(path):
        return path if path.is_file() else None
    stem, suffix = path.stem, path.suffix
    upper = stem[:1].upper() + stem[1:]
    names = [
        f"test_{stem}{suffix}",
        f"{stem}_test{suffix}",
        f"{stem}.test{suffix}",
        f"{stem}.spec{suffix}",
        f"{stem}_spec{suffix}",
        f"{upper}Test{suffix}",
        f"{upper}Tests{suffix}",
    ]
    base = root or path.parent
    folders = [path.parent, path.parent / "tests", path.parent / "__tests__"]
    folders += [base / "tests", base / "test", base / "spec"]
    candidates = [path_for_tests(path, language, root)]
    candidates += [folder / name for folder in dict.fromkeys(folders) for name in names]
    for candidate in candidates:
        if candidate != path and is_test_file(candidate, language) and candidate.is_file():
            return candidate
    return None
