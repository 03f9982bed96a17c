"""The gateway's side of routing that learns (#14.6): ``/v1/assist`` ``language`` and ``/v1/feedback`` ``kind``."""

from __future__ import annotations

from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import parse_sse
from tests.gateway.test_api import ASSIST, bearer


async def test_the_language_lands_on_the_row_and_the_feedback_says_what_it_is_about(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as g:
        alice = g.key("alice")
        response = await g.client.post("/v1/assist", json=dict(ASSIST, language="python"), headers=bearer(alice))
        done = parse_sse(response.text)[-1][1]
        assert isinstance(done, dict)
        request_id = done["request_id"]
        ledger = g.gateway.ledger
        assert ledger is not None and ledger.flush(5.0)
        row = ledger.get(request_id)
        assert row is not None and row.language == "python"

        mark = {"request_id": request_id, "accepted": False, "task": "docstring", "kind": "code_action"}
        ok = await g.client.post("/v1/feedback", json=mark, headers=bearer(alice))
        assert ok.status_code == 200, ok.text
        assert (ledger.feedback(request_id), ledger.feedback_kind(request_id)) == (False, "code_action")
        unknown = await g.client.post("/v1/feedback", json=dict(mark, kind="applied"), headers=bearer(alice))
        assert unknown.status_code == 400 and "kind" in unknown.json()["error"]["message"]
        too_long = await g.client.post("/v1/assist", json=dict(ASSIST, language="x" * 65), headers=bearer(alice))
        assert too_long.status_code == 400 and "language" in too_long.json()["error"]["message"]
