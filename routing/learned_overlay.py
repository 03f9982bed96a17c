"""The learned routing overlay: a TOML file of ``[[routing.tasks.NAME.learned]]`` rules.

``hybrid-assist routing learn`` writes its proposals as such a file (by
default ``<data_dir>/routing-learned.proposed.toml``); ``--apply`` (or the
gateway's ``POST /v1/admin/routing/learn?apply=true``) adopts them by writing
``<data_dir>/routing-learned.toml``, which the layered configuration loader
reads as the layer right above the defaults (every file a person wrote, the
environment and the editor's settings win over it).

Only learned rules are taken from the adopted file: anything else in it is
left out with a problem saying so, so that a learned file can move cells of
the policy table between local and cloud and nothing more (sensitive code is
kept on the premises by ``routing.policy.decide`` whatever the table says).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from routing.settings import LearnedRoute, RoutingSettings

#: The adopted overlay, read by the configuration loader.
ADOPTED_FILE = "routing-learned.toml"
#: Where ``routing learn`` writes its proposals unless told otherwise.
PROPOSED_FILE = "routing-learned.proposed.toml"


def adopted_path(data_dir: Path) -> Path:
    return data_dir / ADOPTED_FILE


def proposed_path(data_dir: Path) -> Path:
    return data_dir / PROPOSED_FILE


def learned_only(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``routing.tasks.NAME.learned`` lists of ``data``, and what else it held (left out)."""
    kept: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in data.items():
        if key != "routing" or not isinstance(value, Mapping):
            ignored.append(key)
            continue
        for section, tasks in value.items():
            if section != "tasks" or not isinstance(tasks, Mapping):
                ignored.append(f"routing.{section}")
                continue
            for task, entry in tasks.items():
                if not isinstance(entry, Mapping):
                    ignored.append(f"routing.tasks.{task}")
                    continue
                ignored += [f"routing.tasks.{task}.{k}" for k in entry if k != "learned"]
                if "learned" in entry:
                    kept.setdefault("routing", {}).setdefault("tasks", {})[task] = {"learned": entry["learned"]}
    return kept, ignored


def rules_of(text: str) -> dict[str, list[Any]]:
    """Each task's learned rules in the overlay ``text`` (as written; ``ValueError`` when it is no TOML)."""
    values, _ = learned_only(tomllib.loads(text))
    tasks = values.get("routing", {}).get("tasks", {})
    return {task: list(entry["learned"]) for task, entry in tasks.items() if isinstance(entry["learned"], list)}


def switch_learned(
    routing: RoutingSettings, previous: Mapping[str, list[Any]], rules: Mapping[str, list[Any]]
) -> RoutingSettings:
    """``routing`` with the overlay ``rules`` in force instead of the ``previous`` overlay's.

    A task whose running rules are not the previous overlay's was configured by a person (a TOML file, the
    environment): it keeps them, as the loader's layering does. A task the new overlay leaves out goes back to no
    learned rules (an empty overlay reverts them all). ``ValueError`` when a rule is invalid.
    """
    tasks = dict(routing.tasks)
    for name, policy in routing.tasks.items():
        before = [LearnedRoute.model_validate(r) for r in previous.get(name, [])]
        if policy.learned != before:
            continue
        after = [LearnedRoute.model_validate(r) for r in rules.get(name, [])]
        tasks[name] = policy.model_copy(update={"learned": after})
    switched = routing.model_copy(update={"tasks": tasks})
    switched._team_cache = {}  # the teams' settings are derived from these: not the original's
    return switched


def render(rules: Mapping[str, list[dict[str, Any]]], header: str) -> str:
    """The overlay's TOML text: ``header`` as comments, then each task's learned rules."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    body = tomli_w.dumps({"routing": {"tasks": {task: {"learned": list(r)} for task, r in rules.items() if r}}})
    return comment + "\n" + body


#: The summary of a revert's adoption.
REVERTED = "revert: no learned rules"


def empty_overlay(adopted_by: str) -> str:
    """The overlay a revert adopts: no learned rules (every replica drops its own)."""
    return render({}, f"Learned routing overlay reverted by {adopted_by}: no learned rules.")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
