"""What the product sends, measured on real code bases: the corpus of the cost replay and its samples.

The corpus is eight open-source code bases in four languages, small to large,
fetched from the package registries with their ordinary clients into
``bench/.corpus/`` (git-ignored): PyPI sdists (``pip download --no-binary
:all: --no-deps``), npm tarballs (``npm pack``) and Debian source packages of
Go and Rust libraries (``apt-get download`` of ``golang-*-dev`` /
``librust-*-dev``, unpacked with ``dpkg -x``; they install source under
``/usr/share/gocode`` and ``/usr/share/cargo/registry``).

:func:`measure` runs the product's own code over each of them and returns
one :class:`Sample` per request it would send:

* the workspace index (``lsp_server.analysis.index.WorkspaceIndex``) of the code base;
* repository commands (review, security, performance at repository, file and
  diff scope; architecture, API integration at repository scope;
  documentation at repository and file scope; the test suite of a file):
  the repository digest (``lsp_server.tasks.repository.build_digest``, with
  the budget ``lsp_server.tasks.gathering.digest_for`` gives it), then the
  assistant's preparation of the digest document (``measure_scope``,
  ``assemble_context``) and the chat prompt
  (``lsp_server.tasks.prompts.build_generation_request`` with
  ``task_instruction``);
* code actions and chat (explain, fix, docstring, refactor, tests, naming,
  migration, multi-file refactor) at sampled definitions: scope, context and
  prompt the same way;
* completions at sampled lines: the completion context
  (``assemble_context`` with the completion budget), and the part of its
  prompt that is unchanged after the developer types one more character there
  (what a provider's prompt cache could serve).

Each sample records the input tokens of the whole prompt, the stable prefix
(system text and the part before the instruction, ``stable_chars``), the
scope level and context tokens the router sees, and the task; the router's
decision is taken in the replay (:mod:`bench.bench_cost_replay`). Token
counts use the product's counter without a local tokenizer (UTF-8 bytes / 4).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from inspect import signature
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsp_server.analysis.context import assemble_context
from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.paths import display_path, path_to_uri
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.tokens import estimate_tokens
from lsp_server.tasks.prompts import SYSTEM_PROMPT, build_generation_request
from lsp_server.tasks.repository import SourceFile, build_digest, task_instruction
from routing.policy import RouteTarget
from routing.settings import default_task_policies
from routing.tasks import TaskKind

CORPUS_DIR = Path(__file__).resolve().parent / ".corpus"
PROMPT_RESERVE_TOKENS = 1_500  # lsp_server.tasks.gathering.PROMPT_RESERVE_TOKENS
COMPLETION_BUDGET = 2_048  # [completion] context_tokens


@dataclass(frozen=True)
class CodeBase:
    name: str
    language: str
    size: str  # small | medium | large
    fetch: tuple[str, ...]  # the registry command that fetches it (run in CORPUS_DIR)
    archive: str  # what it leaves behind, relative to CORPUS_DIR
    inner: str = ""  # for Debian packages: the source directory inside the unpacked package


CODE_BASES: tuple[CodeBase, ...] = (
    CodeBase(
        "six-1.17.0",
        "python",
        "small",
        ("pip", "download", "--no-binary", ":all:", "--no-deps", "--no-build-isolation", "-d", "pypi", "six==1.17.0"),
        "pypi/six-1.17.0.tar.gz",
    ),
    CodeBase(
        "requests-2.32.3",
        "python",
        "medium",
        (
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--no-build-isolation",
            "-d",
            "pypi",
            "requests==2.32.3",
        ),
        "pypi/requests-2.32.3.tar.gz",
    ),
    CodeBase(
        "Django-5.1.4",
        "python",
        "large",
        ("pip", "download", "--no-binary", ":all:", "--no-deps", "--no-build-isolation", "-d", "pypi", "django==5.1.4"),
        "pypi/Django-5.1.4.tar.gz",
    ),
    CodeBase(
        "express-4.21.2",
        "javascript",
        "small",
        ("npm", "pack", "--pack-destination", "npm", "express@4.21.2"),
        "npm/express-4.21.2.tgz",
    ),
    CodeBase(
        "axios-1.7.9",
        "javascript",
        "medium",
        ("npm", "pack", "--pack-destination", "npm", "axios@1.7.9"),
        "npm/axios-1.7.9.tgz",
    ),
    CodeBase(
        "mux-1.8.0",
        "go",
        "small",
        ("apt-get", "download", "golang-github-gorilla-mux-dev=1.8.0-1"),
        "golang-github-gorilla-mux-dev_1.8.0-1_all.deb",
        "usr/share/gocode/src/github.com/gorilla/mux",
    ),
    CodeBase(
        "cobra-1.6.1",
        "go",
        "medium",
        ("apt-get", "download", "golang-github-spf13-cobra-dev=1.6.1-1"),
        "golang-github-spf13-cobra-dev_1.6.1-1_all.deb",
        "usr/share/gocode/src/github.com/spf13/cobra",
    ),
    CodeBase(
        "regex-1.7.1",
        "rust",
        "medium",
        ("apt-get", "download", "librust-regex-dev=1.7.1-1"),
        "librust-regex-dev_1.7.1-1_amd64.deb",
        "usr/share/cargo/registry/regex-1.7.1",
    ),
)

#: Repository commands and the scopes they are measured at.
COMMANDS: tuple[tuple[TaskKind, tuple[str, ...]], ...] = (
    (TaskKind.REVIEW, ("repository", "file", "diff")),
    (TaskKind.SECURITY, ("repository", "file", "diff")),
    (TaskKind.PERFORMANCE, ("repository", "file", "diff")),
    (TaskKind.ARCHITECTURE, ("repository",)),
    (TaskKind.API_INTEGRATION, ("repository",)),
    (TaskKind.DOCUMENTATION, ("repository", "file")),
    (TaskKind.TESTS, ("file",)),
)
#: Code actions and chat measured at sampled definitions.
ACTIONS: tuple[TaskKind, ...] = (
    TaskKind.EXPLAIN,
    TaskKind.FIX,
    TaskKind.DOCSTRING,
    TaskKind.REFACTOR,
    TaskKind.TESTS,
    TaskKind.NAMING,
    TaskKind.MIGRATION,
    TaskKind.MULTI_FILE_REFACTOR,
)


@dataclass(frozen=True)
class Sample:
    """One request the product would send, as measured."""

    code_base: str
    language: str
    kind: str  # command | action | completion
    task: str
    command_scope: str  # repository | file | diff for commands; "" otherwise
    scope_level: str  # what the router sees
    context_tokens: int  # what the router sees
    input_tokens: int  # the whole prompt
    stable_tokens: int  # its stable prefix (system text and everything before the instruction)
    digest_key: str  # commands: which digest (same key, same bytes); "" otherwise
    site: str  # where it was asked: commands, their code base, scope and focus file; actions, the position


def fetch(code_base: CodeBase) -> Path:
    """The unpacked source of ``code_base`` under CORPUS_DIR/src (fetched with its registry's client first)."""
    target = CORPUS_DIR / "src" / code_base.name
    if target.is_dir():
        return target
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    archive = CORPUS_DIR / code_base.archive
    if not archive.exists():
        for folder in ("pypi", "npm"):
            (CORPUS_DIR / folder).mkdir(exist_ok=True)
        command = list(code_base.fetch)
        if command[0] == "pip":
            command = [sys.executable, "-m", *command]
        subprocess.run(command, cwd=CORPUS_DIR, check=True, stdout=subprocess.DEVNULL)
    if archive.suffix == ".deb":
        unpacked = CORPUS_DIR / "deb" / code_base.name
        subprocess.run(["dpkg", "-x", str(archive), str(unpacked)], check=True)
        shutil.copytree(unpacked / code_base.inner, target)
    else:
        with tarfile.open(archive) as tar:
            top = tar.getnames()[0].split("/", 1)[0]
            tar.extractall(CORPUS_DIR / "src" / ".unpack", filter="data")
        (CORPUS_DIR / "src" / ".unpack" / top).rename(target)
    return target


def _prompt_tokens(
    task: TaskKind,
    doc: Document,
    offset: int,
    index: WorkspaceIndex,
    settings: AnalysisSettings,
    selection: tuple[int, int] | None,
    instruction: str,
) -> tuple[str, int, int, int]:
    """(scope level, context tokens, prompt tokens, stable-prefix tokens) of ``task`` as the assistant prepares it."""
    scope = measure_scope(doc, offset, task.value, index, settings, selection=selection)
    context = assemble_context(doc, offset, scope, index, settings.repository_max_tokens)
    if selection is not None:
        focus = doc.source[selection[0] : selection[1]].decode("utf-8", "replace")
    else:  # the enclosing unit (lsp_server.assistant._focus_text)
        sl, sc, el, ec = scope.unit_range
        start, end = doc.offset_at(sl, sc, "utf-8"), doc.offset_at(el, ec, "utf-8")
        focus = doc.source[start:end].decode("utf-8", "replace") if end > start else doc.text
    policy = default_task_policies()[task.value]
    # (the target argument is going away: the model is filled in as the request is sent)
    target = (
        {"target": RouteTarget("cloud", "m", True)}
        if "target" in signature(build_generation_request).parameters
        else {}
    )
    request = build_generation_request(
        task,
        "m",
        context=context,
        language=doc.language,
        focus_text=focus,
        instruction=instruction,
        max_tokens=policy.max_output_tokens,
        **target,  # type: ignore[arg-type]
    )
    user = request.messages[-1].content
    prompt = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(user)
    stable = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(user[: request.stable_chars])
    return scope.level, max(scope.context_tokens, context.token_count), prompt, stable


def _diff_of(path: str, display: str, text: str, rng: random.Random) -> str:
    """A small change to ``text``: a comment line added after three of its lines, as ``git diff`` shows it."""
    lines = text.splitlines(keepends=True)
    changed = list(lines)
    for at in sorted(rng.sample(range(len(lines)), min(3, len(lines))), reverse=True):
        changed.insert(at + 1, "# changed by the replay\n")
    return "".join(difflib.unified_diff(lines, changed, f"a/{display}", f"b/{display}"))


def measure(
    root: Path, code_base: CodeBase, rng: random.Random, *, files_per_scope: int = 4, positions: int = 24
) -> list[Sample]:
    """The samples of one code base (see the module docstring)."""
    settings = AnalysisSettings(index_cache_dir=str(CORPUS_DIR / "index-cache"))
    index = WorkspaceIndex([root], settings)
    index.build_sync()
    roots = list(index.roots)
    files: list[SourceFile] = []
    for path in index.paths():
        symbols = index.file(path)
        language, definitions = (symbols.language, symbols.definitions) if symbols else ("", ())
        files.append(SourceFile(path, display_path(path, roots), language, definitions))
    texts: dict[str, str] = {}

    def read(path: str) -> str | None:
        if path not in texts:
            try:
                texts[path] = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
        return texts[path]

    with_code = [f for f in files if f.definitions]
    samples: list[Sample] = []
    policies = default_task_policies()
    header = f"Repository: {root.name}"
    picks = {scope: rng.sample(with_code, min(files_per_scope, len(with_code))) for scope in ("file", "diff")}
    for task, scopes in COMMANDS:
        budget = max(
            1_000, settings.repository_max_tokens - policies[task.value].max_output_tokens - PROMPT_RESERVE_TOKENS
        )
        for scope in scopes:
            targets = [None] if scope == "repository" else picks[scope]
            for target in targets:
                diff = ""
                if scope == "diff" and target is not None:
                    diff = _diff_of(target.path, target.display, read(target.path) or "", rng)
                digest = build_digest(
                    files,
                    read,
                    budget=budget,
                    focus=[target.path] if target is not None else [],
                    include_others=scope == "repository",
                    diff=diff,
                    header=header,
                )
                uri = path_to_uri(root / ".hybrid-assist" / f"{task.value}.md")
                doc = Document(uri, digest.text, "markdown")
                instruction = task_instruction(
                    task, tests_path="tests/test_generated.py" if task == TaskKind.TESTS else None
                )
                level, context, prompt, stable = _prompt_tokens(
                    task, doc, 0, index, settings, (0, len(doc.source)), instruction
                )
                site = f"{code_base.name}:{scope}:{target.display if target else ''}"
                key = f"{site}:{hashlib.sha256(digest.text.encode()).hexdigest()[:16]}"
                samples.append(
                    Sample(
                        code_base.name,
                        code_base.language,
                        "command",
                        task.value,
                        scope,
                        level,
                        context,
                        prompt,
                        stable,
                        key,
                        site,
                    )
                )
    # code actions and chat at sampled definitions
    for _ in range(positions):
        file = rng.choice(with_code)
        text = read(file.path) or ""
        definition = rng.choice(file.definitions)
        doc = Document(path_to_uri(file.path), text, language_from_path(file.path) or "")
        line = min(definition.start_line + 1, definition.end_line)
        offset = doc.offset_at(line, 0, "utf-8")
        site = f"{code_base.name}:{file.display}:{line}"
        for task in ACTIONS:
            instruction = "Move it to the newest API." if task == TaskKind.MIGRATION else ""
            level, context, prompt, stable = _prompt_tokens(task, doc, offset, index, settings, None, instruction)
            samples.append(
                Sample(
                    code_base.name,
                    code_base.language,
                    "action",
                    task.value,
                    "",
                    level,
                    context,
                    prompt,
                    stable,
                    "",
                    site,
                )
            )
    # completions at sampled lines, and the part of their prompt that one more typed character leaves unchanged
    for _ in range(positions * 2):
        file = rng.choice(with_code)
        text = read(file.path) or ""
        lines = text.count("\n")
        if lines < 2:
            continue
        doc = Document(path_to_uri(file.path), text, language_from_path(file.path) or "")
        offset = doc.offset_at(rng.randrange(1, lines), 0, "utf-8")
        offset = len(doc.source[:offset].rstrip(b"\n")) if offset else offset  # the end of the previous line
        at = measure_scope(doc, offset, TaskKind.INLINE_COMPLETION.value, index, settings)
        before_context = assemble_context(doc, offset, at, index, COMPLETION_BUDGET)
        typed = doc.source[:offset] + b"x" + doc.source[offset:]
        after = Document(doc.uri, typed.decode("utf-8", "replace"), doc.language_id)
        next_context = assemble_context(after, offset + 1, at, index, COMPLETION_BUDGET)
        before, now = before_context.prompt_prefix(), next_context.prompt_prefix()
        common = 0
        for a, b in zip(before, now, strict=False):
            if a != b:
                break
            common += 1
        samples.append(
            Sample(
                code_base.name,
                code_base.language,
                "completion",
                TaskKind.INLINE_COMPLETION.value,
                "",
                at.level,
                before_context.token_count,
                before_context.token_count,
                estimate_tokens(before[:common]),
                "",
                f"{code_base.name}:{display_path(file.path, roots)}:{offset}",
            )
        )
    return samples


def corpus_samples(seed: int, *, refresh: bool = False) -> list[Sample]:
    """Every code base's samples (cached in CORPUS_DIR/samples-<seed>.json; ``refresh`` measures again)."""
    cache = CORPUS_DIR / f"samples-{seed}.json"
    if cache.exists() and not refresh:
        return [Sample(**row) for row in json.loads(cache.read_text())]
    rng = random.Random(seed)
    samples: list[Sample] = []
    for code_base in CODE_BASES:
        started = time.perf_counter()
        root = fetch(code_base)
        measured = measure(root, code_base, rng)
        samples.extend(measured)
        print(
            f"  measured {code_base.name}: {len(measured)} samples in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    cache.write_text(json.dumps([asdict(s) for s in samples]))
    return samples
