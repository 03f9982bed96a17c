"""A language server on the usage database follows the adopted learned routing overlay, as gateway replicas do.

``hybrid-assist lsp`` (embedded mode) loads the newest adoption at start and
checks for a newer one every ``[routing.learning] reload_s``; its sessions'
settings are re-layered with it (a rule a person configured still wins).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hybrid_assist.commands.lsp import follow_learned_routing
from routing.usage.adoptions import record_adoption
from routing.usage.database import open_engine
from tests.gateway.test_learned_replicas import RULE
from tests.lsp.harness import in_process_server, write_config
from tests.lsp.test_auth_gate import Wire


async def test_the_sessions_switch_to_a_newer_adoption_within_reload_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = '[[routing.tasks.fix.learned]]\nscope_level = "repository"\nroute = "local"\n'
    config = write_config(tmp_path, f"\n[routing.learning]\nreload_s = 0.05\n\n{person}")
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(config))
    async with in_process_server(config, Wire()) as server:
        assert server.session.settings.routing.tasks["refactor"].learned == []
        following = await follow_learned_routing(server.session.settings, server.assistant, [server])
        assert following is not None
        try:
            other = open_engine(f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}")  # the CLI's, another machine's
            fix = '[[routing.tasks.fix.learned]]\nscope_level = "single_file"\nroute = "cloud"\n'
            record_adoption(other, RULE + fix, "carol")
            for _ in range(250):
                if server.session.settings.routing.tasks["refactor"].learned:
                    break
                await asyncio.sleep(0.02)
            tasks = server.session.settings.routing.tasks
            assert [(r.route, r.language) for r in tasks["refactor"].learned] == [("local", "python")]
            assert [r.scope_level for r in tasks["fix"].learned] == ["repository"]  # the person's rule wins
            assert (tmp_path / "data" / "routing-learned.toml").read_text() == RULE + fix

            record_adoption(other, "# reverted\n", "carol")
            for _ in range(250):
                if not server.session.settings.routing.tasks["refactor"].learned:
                    break
                await asyncio.sleep(0.02)
            assert server.session.settings.routing.tasks["refactor"].learned == []
            other.dispose()
        finally:
            following.cancel()
