"""Which files a model's answer may create or change: every answer stays in its lane (no LSP).

A repository can carry text that steers the model (prompt injection), so a
path named in an answer is untrusted. Every path that turns model output into
file creations or changes — the generated test suite
(``hybrid.generateTestSuite``), the "generate tests" code action, multi-file
refactors — asks a :class:`FilePolicy` about each file first; what it refuses
never reaches the ``WorkspaceEdit`` and is listed with the reason
(:class:`Refusal`).

Never, in any lane:

* a path that is absolute, has a ``..`` component, or leaves the workspace
  root through a link;
* anything under a dot-directory (``.git``, ``.github``, ``.vscode``,
  ``.idea``, ``.circleci``, ...) or a dot-file (``.gitlab-ci.yml``,
  ``.pre-commit-config.yaml``, ``.env``, ...);
* editor, CI or build configuration (:data:`CONFIG_NAMES`,
  :data:`CONFIG_PATTERNS`: ``Makefile``, ``Dockerfile``, ``setup.py``,
  ``pyproject.toml``, ``package.json``, ``*.gradle``, ``pom.xml``,
  ``Jenkinsfile``, ``tox.ini``, ``noxfile.py``, ``build.rs``,
  ``*.config.js``, ...). ``conftest.py`` runs whenever pytest collects
  tests, so it counts as configuration unless it was shown to the model (an
  existing ``conftest.py`` whose text was in the prompt may be changed);
* a directory, or an existing file with an executable bit;
* the same checks again on where a link inside the workspace points.

Then the lane:

* ``tests`` (generated test suites and the tests action): only test files
  by the conventions of :func:`lsp_server.tasks.testfiles.is_test_file`,
  with a source extension of the suite's languages; existing test files may
  be replaced or extended;
* ``changes`` (multi-file refactors): an existing file only when its text was
  shown to the model; a new file only with a source extension of the
  workspace's languages.

A single-region edit (fix, refactor, migration, ...) changes only the
document the user ran the action on, which the model was shown and did not
choose, so it needs no policy.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lsp_server.analysis.languages import language_from_path
from lsp_server.tasks.testfiles import TEST_NAMES, is_test_file

Lane = Literal["tests", "changes"]

#: File names (lower case) of editor, CI and build configuration: never written from an answer.
CONFIG_NAMES = frozenset(
    {
        # make and friends, containers, CI
        "makefile",
        "gnumakefile",
        "makefile.am",
        "makefile.in",
        "configure",
        "configure.ac",
        "cmakelists.txt",
        "meson.build",
        "justfile",
        "dockerfile",
        "containerfile",
        "jenkinsfile",
        "vagrantfile",
        "procfile",
        "build",
        "build.bazel",
        "workspace",
        "workspace.bazel",
        "module.bazel",
        "appveyor.yml",
        "bitbucket-pipelines.yml",
        "buildspec.yml",
        # python
        "setup.py",
        "setup.cfg",
        "pyproject.toml",
        "tox.ini",
        "noxfile.py",
        "pytest.ini",
        "conftest.py",
        "manifest.in",
        "pipfile",
        "pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "sitecustomize.py",
        "usercustomize.py",
        "fabfile.py",
        # javascript / typescript
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "pnpm-workspace.yaml",
        "tsconfig.json",
        "jsconfig.json",
        "deno.json",
        "deno.jsonc",
        "gulpfile.js",
        "gruntfile.js",
        "lerna.json",
        "nx.json",
        "turbo.json",
        # go, rust
        "go.mod",
        "go.sum",
        "go.work",
        "magefile.go",
        "cargo.toml",
        "cargo.lock",
        "build.rs",
        "rust-toolchain",
        "rust-toolchain.toml",
        # jvm
        "pom.xml",
        "build.xml",
        "gradle.properties",
        "gradlew",
        "gradlew.bat",
        "mvnw",
        "mvnw.cmd",
        # ruby, php, .net
        "gemfile",
        "gemfile.lock",
        "rakefile",
        "guardfile",
        "config.ru",
        "composer.json",
        "composer.lock",
        "phpunit.xml",
        "phpunit.xml.dist",
        "nuget.config",
        "global.json",
        "directory.build.props",
        "directory.build.targets",
    }
)

#: Name patterns (lower case, :mod:`fnmatch`) of editor, CI and build configuration.
CONFIG_PATTERNS = (
    "*.gradle",
    "*.gradle.kts",
    "*.mk",
    "*.cmake",
    "*.bzl",
    "dockerfile.*",
    "*.dockerfile",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "azure-pipelines*.yml",
    "azure-pipelines*.yaml",
    "cloudbuild*.yaml",
    "cloudbuild*.yml",
    "taskfile*.yml",
    "taskfile*.yaml",
    "requirements*.txt",
    "*.config.js",
    "*.config.cjs",
    "*.config.mjs",
    "*.config.ts",
    "*.config.mts",
    "*.config.cts",
    "*.gemspec",
    "*.rake",
    "*.csproj",
    "*.fsproj",
    "*.vbproj",
    "*.sln",
    "*.props",
    "*.targets",
    "*.code-workspace",
    "*.sublime-project",
    "*.iml",
    "*.pth",
)

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A file an answer named that is not written, and why."""

    path: str
    reason: str

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def config_kind(name: str) -> str | None:
    """Why the file name ``name`` is configuration (its kind), or None when it is not."""
    lower = name.lower()
    if lower in CONFIG_NAMES or any(fnmatch.fnmatchcase(lower, p) for p in CONFIG_PATTERNS):
        return "editor, CI or build configuration"
    return None


def languages_of(paths: Iterable[str | os.PathLike[str]]) -> frozenset[str]:
    """The source languages of ``paths`` (by extension)."""
    found = {language_from_path(os.fspath(p)) for p in paths}
    return frozenset(lang for lang in found if lang is not None)


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """The lane of one answer: which files under ``root`` it may create or change.

    ``languages``: the source languages whose extensions the lane accepts;
    ``shown``: the files (absolute paths) whose text the model was shown.
    """

    root: Path | None  # None: no workspace folder, nothing may be written
    lane: Lane
    languages: frozenset[str]
    shown: frozenset[str] = field(default_factory=frozenset)
    _root_real: str = field(init=False, repr=False, compare=False)
    _shown_real: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_root_real", _real(self.root) if self.root is not None else "")
        object.__setattr__(self, "_shown_real", frozenset(_real(p) for p in self.shown))

    @classmethod
    def for_tests(
        cls, root: Path | None, languages: Iterable[str], shown: Iterable[str | os.PathLike[str]] = ()
    ) -> FilePolicy:
        return cls(root, "tests", frozenset(languages), frozenset(os.fspath(p) for p in shown))

    @classmethod
    def for_changes(
        cls, root: Path | None, languages: Iterable[str], shown: Iterable[str | os.PathLike[str]]
    ) -> FilePolicy:
        return cls(root, "changes", frozenset(languages), frozenset(os.fspath(p) for p in shown))

    # -- checks ------------------------------------------------------------------------

    def check(self, name: str) -> Refusal | None:
        """Why the path ``name`` as an answer named it (relative to the root) may not be written, or None."""
        text = name.strip().replace("\\", "/")
        if not text:
            return Refusal(name, "an empty path")
        if text.startswith(("/", "~")) or _DRIVE.match(text):
            return Refusal(name, "an absolute path: only paths relative to the workspace are accepted")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            return Refusal(name, "a path with `..`: it may leave the workspace")
        if not parts:
            return Refusal(name, "not a file")
        if self.root is None:
            return Refusal(name, "no workspace folder to write in")
        return self._check_relative(name, posixpath.join(*parts))

    def check_path(self, path: Path) -> Refusal | None:
        """Like :meth:`check`, for an absolute path the server computed (e.g. the tests action's test file)."""
        if self.root is None:
            return Refusal(str(path), "no workspace folder to write in")
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            return Refusal(str(path), "outside the workspace")
        return self.check(relative)

    def _check_relative(self, name: str, relative: str) -> Refusal | None:
        assert self.root is not None
        real = _real(Path(self.root, relative))
        if real != self._root_real and not real.startswith(self._root_real.rstrip(os.sep) + os.sep):
            return Refusal(name, "outside the workspace through a link")
        reason = self._by_name(relative, real)
        target = Path(real).relative_to(self._root_real).as_posix() if real != self._root_real else "."
        if reason is None and target != relative:
            linked = self._by_name(target, real)
            reason = f"links to {target}, {linked}" if linked is not None else None
        if reason is None:
            reason = self._by_disk(real)
        if reason is None:
            reason = self._by_lane(relative, real)
        return Refusal(name, reason) if reason is not None else None

    def _by_name(self, relative: str, real: str) -> str | None:
        *folders, file_name = relative.split("/")
        hidden = next((f for f in folders if f.startswith(".")), None)
        if hidden is not None:
            return f"under the dot-directory {hidden}/ (editor, VCS or CI configuration)"
        if file_name.startswith("."):
            return f"a dot-file ({file_name}): configuration, not source"
        kind = config_kind(file_name)
        if kind is None:
            return None
        if file_name.lower() == "conftest.py":
            if real in self._shown_real:
                return None
            return "conftest.py runs whenever pytest collects tests: configuration, unless it was shown to the model"
        return f"{kind} ({file_name})"

    @staticmethod
    def _by_disk(real: str) -> str | None:
        try:
            mode = os.stat(real).st_mode
        except OSError:
            return None  # a new file
        if stat.S_ISDIR(mode):
            return "a directory"
        if not stat.S_ISREG(mode):
            return "not a regular file"
        if mode & 0o111:
            return f"an executable file (mode {stat.S_IMODE(mode):o})"
        return None

    def _accepted_languages(self) -> str:
        return ", ".join(sorted(self.languages)) or "none"

    def _by_lane(self, relative: str, real: str) -> str | None:
        language = language_from_path(relative)
        exists = os.path.exists(real)
        if self.lane == "tests":
            if real in self._shown_real and Path(relative).name.lower() == "conftest.py":
                return None
            if language is None or language not in self.languages:
                return f"not a source file of the suite's languages ({self._accepted_languages()})"
            if not is_test_file(relative, language):
                return f"not a test file ({language} tests are {TEST_NAMES.get(language, 'test_*')})"
            return None
        if exists:
            return None if real in self._shown_real else "an existing file that was not shown to the model"
        if language is None or language not in self.languages:
            return f"a new file that is not source of the workspace's languages ({self._accepted_languages()})"
        return None

    def split(self, names: Iterable[str]) -> tuple[list[str], list[Refusal]]:
        """``names`` the lane accepts, in order, and the refusals of the others."""
        kept: list[str] = []
        refused: list[Refusal] = []
        for name in names:
            refusal = self.check(name)
            if refusal is None:
                kept.append(name)
            else:
                refused.append(refusal)
        return kept, refused


def describe_refusals(refused: Iterable[Refusal]) -> str:
    """One line per refused file: ``refused <path>: <reason>``."""
    return "\n".join(f"refused {r.describe()}" for r in refused)
