"""Per-session state: one-time notices ignore the numbers in them."""

from hybrid_assist.settings import HybridSettings
from lsp_server.session import Session


def test_notices_are_told_once_whatever_their_numbers() -> None:
    session = Session(settings=HybridSettings(user="u"))
    assert session.first_time("rate limited; retry in 3 s")
    assert not session.first_time("rate limited; retry in 12 s")
    assert not session.first_time("rate limited; retry in 3 s")
    assert session.first_time("the remaining budget ($0.0010) does not cover openai (~$0.0300)")
    assert not session.first_time("the remaining budget ($0.0005) does not cover openai (~$0.0400)")
    assert session.first_time("anthropic (UnavailableError) failed; answered by local")
    assert not session.first_time("")
