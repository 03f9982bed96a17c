"""``[analysis]`` settings: indexing limits, scope thresholds and context budgets."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_EXCLUDE_DIRS: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    "dist",
    "build",
    "target",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
)


class AnalysisSettings(BaseModel):
    """``[analysis]``: how the workspace is indexed and how far a request may reach."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="Files larger than this many bytes are not indexed.",
    )
    max_parse_bytes: int = Field(
        default=2_000_000,
        ge=1,
        description=(
            "Open documents larger than this many bytes get no syntax tree; they are "
            "handled as plain text (context by lines, scope single_file)."
        ),
    )
    exclude_dirs: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE_DIRS),
        description="Directory names skipped at any depth when indexing.",
    )
    extra_excludes: list[str] = Field(
        default_factory=list,
        description=(
            "More paths to skip, as .gitignore-style patterns relative to each workspace "
            "folder (e.g. 'third_party/', '*.min.js', 'docs/**/generated')."
        ),
    )
    respect_gitignore: bool = Field(default=True, description="Skip files matched by the workspace's .gitignore files.")
    include_dirs: list[str] = Field(
        default_factory=list,
        description=(
            "Extra C/C++ include directories, absolute or relative to each workspace folder, "
            "searched for #include after the including file's own directory."
        ),
    )
    repository_max_files: int = Field(
        default=12,
        ge=1,
        description=("A request needing more than this many other workspace files is repository-wide."),
    )
    repository_max_tokens: int = Field(
        default=24_000,
        ge=1,
        description="A request whose needed context exceeds this many tokens is repository-wide.",
    )
    context_max_tokens: int = Field(
        default=2_048,
        ge=16,
        description="Token budget of the context assembled for completions.",
    )
    snippet_share: float = Field(
        default=0.35,
        ge=0.0,
        le=0.9,
        description="Largest share of the context budget given to snippets from other files.",
    )
    index_workers: int = Field(
        default=0,
        ge=0,
        description="Processes used for the initial index (0: one per CPU core, at most 4).",
    )
    index_cache_dir: str = Field(
        default="",
        description=(
            "Directory of the on-disk index cache; empty: the platform cache directory "
            "(e.g. ~/.cache/hybrid-assist/index)."
        ),
    )
    max_index_files: int = Field(
        default=200_000,
        ge=1,
        description="Stop discovering files after this many (very large monorepos).",
    )

    def cache_dir(self) -> Path:
        """The directory the index cache lives in (not created here)."""
        if self.index_cache_dir:
            return Path(self.index_cache_dir).expanduser()
        if os.name == "nt":
            base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
            return base / "hybrid-assist" / "index"
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        return base / "hybrid-assist" / "index"

    def workers(self) -> int:
        """Number of indexing processes to use."""
        if self.index_workers:
            return self.index_workers
        return max(1, min(4, os.cpu_count() or 1))
