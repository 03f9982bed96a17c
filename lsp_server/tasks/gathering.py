"""What a repository command shows the model: its target, the workspace files, the diff, the digest.

No LSP here: :func:`gather` reads the session's documents and index (building
the index first when it is not ready), leaves out sensitive files (a diff's
file under any name it has there: old, new, renamed or copied), reads the
diff (``git diff HEAD`` when none is given) and picks the focus files;
:func:`digest_for` packs them within the repository token budget and the largest window
that may serve the command (:func:`~lsp_server.tasks.repository.build_digest`). A command that cannot run
raises :class:`CommandFailure`, which the handlers report as ``RequestFailed``.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsp_server.analysis.paths import display_path, path_to_uri, uri_to_path
from lsp_server.analysis.tokens import TokenCounter
from lsp_server.confinement import UNCONFINED, Confinement
from lsp_server.session import Session
from lsp_server.session_settings import SessionSettings
from lsp_server.tasks.repository import Digest, SourceFile, build_digest, changed_files, split_diff
from routing.sensitivity import sensitive_path_reasons
from routing.tasks import TaskKind

SCOPES = ("repository", "diff", "file")
MAX_READ_BYTES = 2_000_000
"""Files larger than this are listed but never read into a prompt."""
PROMPT_RESERVE_TOKENS = 1_500
"""Tokens of the repository budget kept for the instructions and the answer format."""
GIT_TIMEOUT_S = 30.0


class CommandFailure(Exception):
    """The arguments were valid but the command cannot run (e.g. not a git repository)."""


@dataclass(slots=True)
class Target:
    """What a command works on, from its argument."""

    scope: str = "repository"
    uris: list[str] = field(default_factory=list)
    diff: str = ""
    instruction: str = ""


async def git_diff(root: Path) -> str:
    """``git diff HEAD`` of ``root`` (staged and unstaged changes; the index only before a first commit)."""

    async def git(*argv: str) -> tuple[int, str, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                "-C",
                str(root),
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise CommandFailure("cannot review a diff: git is not installed") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            raise
        return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace").strip()

    code, out, err = await git("diff", "--no-color", "--no-ext-diff", "HEAD", "--")
    if code != 0 and "not a git repository" in err.lower():
        raise CommandFailure(f"cannot review a diff: {root} is not a git repository")
    if code != 0 and ("unknown revision" in err or "ambiguous argument 'HEAD'" in err):
        code, out, err = await git("diff", "--no-color", "--no-ext-diff", "--cached", "--")
    if code != 0:
        raise CommandFailure(f"cannot review a diff: git diff failed: {err or f'exit status {code}'}")
    return out


@dataclass(slots=True)
class Gathered:
    """The files a command shows the model, and how to read them."""

    root: Path | None
    files: list[SourceFile]
    focus: list[str]  # absolute paths
    include_others: bool
    diff: str
    withheld: list[str]
    texts: dict[str, str]  # open documents' text by absolute path (unsaved edits win)
    client_uris: dict[str, str]  # absolute path → the URI the editor uses for it
    root_aliases: dict[str, str] = field(default_factory=dict)  # resolved root → the root as the editor names it
    confinement: Confinement = UNCONFINED  # where the disk may be read (the session's roots, links resolved)

    def read(self, path: str) -> str | None:
        text = self.texts.get(path)
        if text is not None:
            return text
        if not self.confinement.allows(path):
            return None
        try:
            if os.path.getsize(path) > MAX_READ_BYTES:
                return None
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                return handle.read()
        except OSError:
            return None

    def uri_for(self, path: str) -> str:
        """The URI of ``path`` as the editor spells it (its open document's, or under its root's name)."""
        known = self.client_uris.get(path)
        if known is not None:
            return known
        for real, alias in self.root_aliases.items():
            if real != alias and path.startswith(real.rstrip(os.sep) + os.sep):
                return path_to_uri(alias.rstrip(os.sep) + path[len(real.rstrip(os.sep)) :])
        return path_to_uri(path)


def _realpath(uri: str) -> str:
    return os.path.realpath(uri_to_path(uri))


async def gather(session: Session, target: Target, *, scoped: bool) -> Gathered:
    """The workspace files, focus and diff of ``target`` (builds the index first when it is not ready)."""
    index = session.index
    if index is not None and not index.ready:
        await index.build()
    roots = list(index.roots) if index is not None else [Path(os.path.realpath(r)) for r in session.roots]
    root = roots[0] if roots else None
    if root is None and target.scope != "file":
        raise CommandFailure("this command needs a workspace folder")
    settings = session.settings.sensitive
    root_names = [str(r) for r in roots]

    def sensitive(path: str) -> bool:
        return bool(sensitive_path_reasons(Path(path).as_posix(), settings.path_globs, root_names))

    texts: dict[str, str] = {}
    client_uris: dict[str, str] = {}
    for doc in session.documents:
        if doc.uri.startswith("file:"):
            path = _realpath(doc.uri)
            texts[path] = doc.text
            client_uris[path] = doc.uri

    def listing() -> tuple[list[SourceFile], list[str]]:
        files: list[SourceFile] = []
        withheld: list[str] = []
        for path in index.paths() if index is not None else []:
            if sensitive(path):
                withheld.append(display_path(path, roots))
                continue
            symbols = index.file(path) if index is not None else None
            language, definitions = (symbols.language, symbols.definitions) if symbols else ("", ())
            files.append(SourceFile(path, display_path(path, roots), language, definitions))
        return files, withheld

    files, withheld = await asyncio.to_thread(listing)  # symbols are decoded per file: off the event loop
    focus: list[str] = []
    diff = ""
    include_others = target.scope == "repository" or not scoped
    if target.scope == "file" or (not scoped and target.uris):
        focus = [_realpath(u) for u in target.uris]
        include_others = False
    elif target.scope == "diff":
        assert root is not None
        raw = target.diff or await git_diff(root)
        if not raw.strip():
            raise CommandFailure(f"nothing to review: {root} has no changes against HEAD (untracked files aside)")
        kept = []
        for rel, chunk in split_diff(raw) or [("", raw)]:
            # every name the file has in its diff (a rename out of secrets/ carries the old file's lines)
            if any(sensitive(os.path.realpath(root / name)) for name in _diff_names(rel, chunk)):
                withheld.append(rel or "(a file of the diff)")
            else:
                kept.append(chunk)
        diff = "".join(kept)
        focus = [os.path.realpath(root / rel) for rel in changed_files(diff)]
        include_others = False
    known = {f.path for f in files}
    for path in focus:
        if sensitive(path):
            withheld.append(display_path(path, roots))
        elif path not in known:
            files.append(SourceFile(path, display_path(path, roots)))
    focus = [p for p in focus if not sensitive(p)]
    confinement = session.confinement
    outside = [p for p in focus if p not in texts and not confinement.allows(p)]
    if outside and target.scope != "diff":
        raise CommandFailure(confinement.refusal(outside[0]))
    unreadable = [p for p in focus if p not in texts and not os.path.isfile(p)]
    if unreadable and target.scope != "diff":
        raise CommandFailure(f"cannot read {unreadable[0]}: no such file")
    if target.scope != "repository" and scoped and not focus:
        raise CommandFailure("nothing to review: every file in scope is sensitive or missing")
    aliases = {os.path.realpath(r): str(r) for r in session.roots}
    withheld = sorted(set(withheld))
    return Gathered(root, files, focus, include_others, diff, withheld, texts, client_uris, aliases, confinement)


_DIFF_NAME_LINE = re.compile(r"^(?:--- |\+\+\+ |rename from |rename to |copy from |copy to )(.+)$", re.MULTILINE)
_GIT_HEADER = re.compile(r"^diff --git (\S+) (\S+)$", re.MULTILINE)


def _diff_names(rel: str, chunk: str) -> list[str]:
    """The relative paths one file's diff names: old and new, renames and copies included."""
    names = [rel] if rel else []
    found = [m.group(1) for m in _DIFF_NAME_LINE.finditer(chunk)]
    for header in _GIT_HEADER.finditer(chunk):
        found.extend(header.groups())
    for name in found:
        name = name.split("\t", 1)[0].strip().strip('"')
        if name == "/dev/null":
            continue
        names.append(name)
        if name[:2] in ("a/", "b/"):
            names.append(name[2:])
    return [n for n in dict.fromkeys(names) if n]


def max_output(settings: SessionSettings, task: TaskKind) -> int:
    """The answer length ``task`` may take under the session's routing policy."""
    policy = settings.routing.for_team(settings.team).tasks.get(task.value)
    return policy.max_output_tokens if policy is not None else 512


def digest_for(
    settings: SessionSettings,
    counter: TokenCounter | None,
    task: TaskKind,
    gathered: Gathered,
    limit: int | None = None,
) -> Digest:
    """The repository digest of ``gathered`` within the session's repository token budget.

    ``limit`` is the largest prompt (tokens) a target that may serve ``task`` holds (see
    :meth:`~lsp_server.assistant.Assistant.input_limit`; None: unknown): the digest and the
    instructions around it stay within it.
    """
    budget = max(1_000, settings.analysis.repository_max_tokens - max_output(settings, task) - PROMPT_RESERVE_TOKENS)
    if limit is not None:
        budget = min(budget, max(0, limit - PROMPT_RESERVE_TOKENS))
    header = f"Repository: {gathered.root.name}" if gathered.root is not None else ""
    kwargs: dict[str, Any] = {"count": counter} if counter is not None else {}
    return build_digest(
        gathered.files,
        gathered.read,
        budget=budget,
        focus=gathered.focus,
        include_others=gathered.include_others,
        diff=gathered.diff,
        header=header,
        **kwargs,
    )
