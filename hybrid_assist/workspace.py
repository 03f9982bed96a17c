"""The workspace a command works in: the git repository around a directory, else the directory itself.

``hybrid-assist complete`` opens the workspace of its file this way, and
``hybrid-assist report`` shows the requests of the current directory's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def workspace_root(directory: Path) -> Path:
    """The top of the git work tree holding ``directory``, or ``directory`` when there is none (or no git)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return directory
