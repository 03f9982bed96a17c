"""Secrets in the forms people write them are found and redacted (value only); ordinary code passes untouched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from inference.types import ChatMessage, GenerationRequest, RequestKind
from routing.redaction import redact_request, secret_kinds
from routing.usage.secret_forms import secret_key_kind
from routing.usage.secrets import find_secrets, redact
from tests.usage.secret_corpus import ORDINARY, hex_value, password, planted

ROOT = Path(__file__).resolve().parents[2]
CASES = planted()  # built at import for the ids; the values are drawn again in each test that needs fresh ones


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_every_form_is_redacted_without_a_filename(index: int) -> None:
    name, text, values = planted()[index]
    redacted, findings = redact(text)
    leaked = [v for v in values if v in redacted]
    assert leaked == [], f"{name}: {leaked} left in\n{redacted}"
    assert secret_kinds(text), name
    assert all(text[f.start : f.end] not in ("", "\n") for f in findings)


def test_the_whole_corpus_in_one_text() -> None:
    cases = planted()
    text = "\n\n".join(body for _, body, _ in cases)
    redacted, _ = redact(text)
    assert [name for name, _, values in cases if any(v in redacted for v in values)] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AWS_SECRET_ACCESS_KEY={v}", "AWS_SECRET_ACCESS_KEY=[REDACTED:secret]"),
        ("export DEPLOY_TOKEN={v}", "export DEPLOY_TOKEN=[REDACTED:token]"),
        ('x = "DB_PASSWORD={v}\\n"', 'x = "DB_PASSWORD=[REDACTED:password]\\n"'),
        ("  password: {v}  # prod", "  password: [REDACTED:password]  # prod"),
        ("  - SECRET_KEY={v}", "  - SECRET_KEY=[REDACTED:secret]"),
        ('{{"client_secret": "{v}"}}', '{{"client_secret": "[REDACTED:secret]"}}'),
        ("+DB_PASSWORD={v}", "+DB_PASSWORD=[REDACTED:password]"),
        ("host=db password={v} dbname=app", "host=db password=[REDACTED:password] dbname=app"),
        (
            "jdbc:mysql://db/app?user=app&password={v}&ssl=true",
            "jdbc:mysql://db/app?user=app&password=[REDACTED:password]&ssl=true",
        ),
        ("kind: Secret\ndata:\n  tls.key: {v}\n", "kind: Secret\ndata:\n  tls.key: [REDACTED:kubernetes_secret]\n"),
    ],
)
def test_the_value_is_replaced_and_the_key_stays(text: str, expected: str) -> None:
    value = hex_value()
    assert redact(text.format(v=value))[0] == expected.format()


def test_a_request_is_redacted_in_every_part() -> None:
    values = [hex_value(), password(), hex_value()]
    request = GenerationRequest(
        request_id="r1",
        kind=RequestKind.CHAT,
        model="gpt-4o",
        prefix=f"DEPLOY_TOKEN={values[0]}\n",
        suffix="",
        messages=(ChatMessage("user", f"export DB_PASSWORD='{values[1]}'\nand the api key is {values[2]}"),),
    )
    out = redact_request(request)
    sent = out.prefix + out.suffix + "".join(m.content for m in out.messages)
    assert [v for v in values if v in sent] == []
    assert "DEPLOY_TOKEN=[REDACTED:token]" in sent and "DB_PASSWORD='[REDACTED:password]'" in sent


def test_a_secret_in_a_long_minified_line_is_found() -> None:
    value = hex_value()
    rows = [{"id": i, "name": f"user{i}", "api_key": value if i == 1500 else None} for i in range(2500)]
    line = json.dumps(rows, separators=(",", ":"))
    assert len(line) > 50_000 and "\n" not in line
    redacted, findings = redact(line)
    assert value not in redacted and '"api_key":"[REDACTED:api_key]"' in redacted and len(findings) == 1


@pytest.mark.parametrize(("name", "text"), ORDINARY, ids=[o[0] for o in ORDINARY])
def test_ordinary_text_is_left_alone(name: str, text: str) -> None:
    assert find_secrets(text) == [], name
    assert redact(text) == (text, [])
    assert secret_kinds(text) == ()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("AWS_SECRET_ACCESS_KEY", ("secret", True)),
        ("DEPLOY_TOKEN", ("token", True)),
        ("PGPASSWORD", ("password", True)),
        ("apiKey", ("api_key", True)),
        ("x-api-key", ("api_key", True)),
        ("ENCRYPTION_KEY", ("key", False)),
        ("password_file", None),
        ("token_url", None),
        ("max_tokens", None),
        ("public_key", None),
        ("SORT_KEY", None),
        ("key", None),
        ("tokenizer", None),
        ("monkey", None),
    ],
)
def test_secret_like_key_names(key: str, expected: tuple[str, bool] | None) -> None:
    assert secret_key_kind(key) == expected


def test_a_2000_line_file_is_scanned_in_milliseconds() -> None:
    sources = sorted((ROOT / "routing").rglob("*.py"))
    lines = "\n".join(p.read_text(encoding="utf-8") for p in sources).split("\n")
    text = "\n".join((lines * (2000 // len(lines) + 1))[:2000])
    find_secrets(text)
    started = time.perf_counter()
    for _ in range(5):
        find_secrets(text)
    per_scan = (time.perf_counter() - started) / 5
    print(f"find_secrets on 2,000 lines ({len(text) // 1024} KB): {per_scan * 1000:.1f} ms")
    assert per_scan < 0.25  # typically ~20 ms on one core
