"""Secrets in outgoing context: a planted corpus is found and redacted; ordinary code is left alone."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import uuid
from pathlib import Path

import pytest

from routing.usage.secrets import SecretFinding, find_secrets, redact

ROOT = Path(__file__).resolve().parents[2]

# Every value below is fake: the right shape, never a live credential. Built from pieces so this file itself
# does not trip secret scanners in CI.
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLQ"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GH_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI_LEGACY = "sk-" + "abcdefghij0123456789" + "T3BlbkFJ" + "abcdefghij0123456789"
OPENAI_PROJ = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3iJK6lMN9o"
ANTHROPIC = "sk-ant-api03-" + "Xy7Zq2Wv9Ut4Sr1Qp6On3Ml8Kj5Ih0Gf7Ed2Cb9Aa4Zz1Yy6Xx3Ww-AbCdEf12"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
GITLAB = "glpat-" + "AbCdEfGhIjKlMnOpQrSt"
SENDGRID = "SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_BODY = (
    "MIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumgfdi4gxdsm3pO3EnuK+HcHs\n"
    "kKYyBPfH2ZLWkrCmULf2H1e2PSm9QqQhJQLrq9V0kb1T6XzGvY4Uk4zJq2tAhkU2\n"
)
RSA_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + PEM_BODY + "-----END RSA " + "PRIVATE KEY-----"
OPENSSH_KEY = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\n" + PEM_BODY + "-----END OPENSSH " + "PRIVATE KEY-----"
BASIC = base64.b64encode(b"deploy:Zq8!hunter2").decode()

# (name, text, the secret inside it, filename)
PLANTED = [
    ("aws access key id", f'aws_access_key_id = "{AWS_ID}"', AWS_ID, "app.py"),
    ("aws secret key", f'aws_secret_access_key = "{AWS_SECRET}"', AWS_SECRET, "app.py"),
    ("github token", f'GITHUB_TOKEN = "{GH}"', GH, "ci.py"),
    ("github fine-grained pat", f"const token = '{GH_PAT}';", GH_PAT, "deploy.js"),
    ("gitlab token", f"GITLAB = '{GITLAB}'", GITLAB, ""),
    ("slack bot token", f'client = WebClient(token="{SLACK}")', SLACK, "bot.py"),
    ("slack webhook", f'WEBHOOK = "{SLACK_HOOK}"', SLACK_HOOK, ""),
    ("stripe live key", f'stripe.api_key = "{STRIPE}"', STRIPE, "billing.py"),
    ("openai legacy key", f"openai.api_key = '{OPENAI_LEGACY}'", OPENAI_LEGACY, ""),
    ("openai project key", f'client = OpenAI(api_key="{OPENAI_PROJ}")', OPENAI_PROJ, ""),
    ("openai key in a comment", f"# use {OPENAI_PROJ} for local testing", OPENAI_PROJ, ""),
    ("anthropic key", f'anthropic.Anthropic(api_key="{ANTHROPIC}")', ANTHROPIC, ""),
    ("google api key", f'let key = "{GOOGLE}";', GOOGLE, "maps.ts"),
    ("hugging face token", f"HF_TOKEN={HF}", HF, ".env"),
    ("sendgrid key", f'sg = SendGridAPIClient("{SENDGRID}")', SENDGRID, ""),
    ("rsa private key", f"KEY = '''\n{RSA_KEY}\n'''", RSA_KEY, ""),
    ("openssh private key", OPENSSH_KEY, OPENSSH_KEY, "id_ed25519"),
    ("truncated private key", "-----BEGIN EC " + "PRIVATE KEY-----\n" + PEM_BODY, PEM_BODY.strip(), ""),
    ("postgres url", 'DATABASE_URL = "postgres://admin:S3cr3tPassw0rd@db.internal:5432/app"', "S3cr3tPassw0rd", ""),
    ("mysql url", "create_engine('mysql+pymysql://root:hunter2xyz@localhost/shop')", "hunter2xyz", ""),
    ("mongodb url", 'MONGO = "mongodb+srv://svc:p4ssW0rd!@cluster0.example.net/test"', "p4ssW0rd!", ""),
    ("redis url", "REDIS_URL=redis://:Xk29fjQz77@cache:6379/0", "Xk29fjQz77", ""),
    (
        "ado.net connection string",
        'conn = "Server=tcp:db.example.com,1433;Database=app;User Id=sa;Password=Sup3rS3cret!;Encrypt=true;"',
        "Sup3rS3cret!",
        "",
    ),
    ("jwt", f'headers = {{"x-session": "{JWT}"}}', JWT, ""),
    ("basic auth header (http)", f"Authorization: Basic {BASIC}", BASIC, ""),
    ("basic auth header (code)", f'req.headers["Authorization"] = "Basic {BASIC}"', BASIC, ""),
    ("bearer token", 'curl -H "Authorization: Bearer ya29.A0ARrdaM8kL2xQ9vT7pZ3nW5yB1cD4eF6gH8iJ0kL"', "ya29.", ""),
    ("password assignment", 'password = "k8#Vq2!zR7@pL4$w"', "k8#Vq2!zR7@pL4$w", "settings.py"),
    ("db password constant", 'DB_PASSWORD = "Tr0ub4dor&3xyz"', "Tr0ub4dor&3xyz", ""),
    ("high-entropy secret", 'SECRET_KEY = "q9ZtX2bV7nM4kL8pR3sD6fG1hJ5wE0yU"', "q9ZtX2bV7nM4kL8pR3sD6fG1hJ5wE0yU", ""),
    ("yaml password", "  password: hunter2hunter2", "hunter2hunter2", "config.yaml"),
    ("ini password", "db_password = Zx9!kQ2#mN5", "Zx9!kQ2#mN5", "settings.ini"),
    ("dotenv secret", "API_SECRET=Zm9vYmFyYmF6cXV4MTIz", "Zm9vYmFyYmF6cXV4MTIz", ".env.production"),
    (
        "anonymous high-entropy string",
        'x = "Qm9yZWQ/V2h5IG5vdCB0cnkgaHlicmlkLWFzc2lzdDQy+/9Zk"',
        "Qm9yZWQ/V2h5IG5v",
        "",
    ),
]


@pytest.mark.parametrize(("name", "text", "secret", "filename"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_secret_is_found_and_redacted(name: str, text: str, secret: str, filename: str) -> None:
    findings = find_secrets(text, filename)
    assert findings, f"{name}: nothing found"
    covered = "".join(text[f.start : f.end] for f in findings)
    assert secret in covered or secret in text[findings[0].start : findings[-1].end]
    redacted, same = redact(text, filename)
    assert same == findings
    assert secret not in redacted
    assert "[REDACTED:" in redacted


CONFIG_FILES = (".yaml", ".ini", ".env")  # unquoted values count only in files of these kinds


def test_one_document_with_every_secret() -> None:
    planted = [p for p in PLANTED if not p[3].startswith(CONFIG_FILES) and not p[3].endswith(CONFIG_FILES)]
    document = "\n\n".join(f"## {name} ##\n{text}" for name, text, _, _ in planted)
    findings = find_secrets(document, "mixed.py")
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))  # sorted, merged
    redacted, _ = redact(document, "mixed.py")
    leaked = [name for name, _, secret, _ in planted if secret in redacted]
    assert leaked == []
    assert len(planted) >= 30
    assert [f"## {p[0]} ##" in redacted for p in planted] == [True] * len(planted)  # the code around is kept


def test_redaction_names_the_kind_and_keeps_the_context() -> None:
    text = f'DATABASE_URL = "postgres://admin:S3cr3tPassw0rd@db.internal/app"  # and {AWS_ID}'
    redacted, findings = redact(text)
    assert [f.kind for f in findings] == ["basic_auth_credentials", "aws_access_key"]
    expected = 'DATABASE_URL = "postgres://admin:[REDACTED:basic_auth_credentials]@db.internal/app"'
    assert redacted == expected + "  # and [REDACTED:aws_access_key]"


ORDINARY = [
    ("uuid", f'REQUEST_ID = "{uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0)}"'),
    ("sha256 in a test", f'assert digest == "{hashlib.sha256(b"x").hexdigest()}"'),
    ("sha1 commit id", 'PINNED = "3f786850e387550fdab836ed7e6dc881de23001b"'),
    ("md5", f'ETAG = "{hashlib.md5(b"abc", usedforsecurity=False).hexdigest()}"'),
    ("data uri image", f'ICON = "data:image/png;base64,{base64.b64encode(bytes(range(256)) * 3).decode()}"'),
    ("long base64 fixture", f'BLOB = "{base64.b64encode(bytes(range(200))).decode()}"'),
    ("password from the environment", 'password = os.environ["DB_PASSWORD"]'),
    ("password from a call", "secret = get_secret('payments')"),
    ("env var name", 'api_key_env: str = "OPENAI_API_KEY"'),
    ("template", 'password = "${DB_PASSWORD}"'),
    ("type annotation", "def login(user: str, password: str) -> Token:"),
    ("url without password", 'URL = "https://user@example.com/path?q=1"'),
    ("ipv4", 'HOST = "93.184.216.34"'),
    ("ordinary identifiers", "self.tokenizer_config_dictionary = load_tokenizer_configuration(path)"),
    ("sequential", 'ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"'),
]


@pytest.mark.parametrize(("name", "text"), ORDINARY, ids=[o[0] for o in ORDINARY])
def test_ordinary_code_is_left_alone(name: str, text: str) -> None:
    assert find_secrets(text, "module.py") == []
    assert redact(text, "module.py") == (text, [])


def test_false_positives_on_this_project_are_rare() -> None:
    """Scan the project's own source and bound the false-positive rate.

    ``tests/`` is left out: its files plant real-looking secrets on purpose (every redaction test
    does), so a finding there is a true positive, not a false one.
    """
    skip = {Path(__file__).resolve()}
    files = [
        p
        for package in ("hybrid_assist", "lsp_server", "inference", "routing", "gateway", "bench", "deploy", "scripts")
        for p in (ROOT / package).rglob("*")
        if p.suffix in {".py", ".json", ".toml", ".sh", ".md", ".scm"}
        and p.is_file()
        and p.resolve() not in skip
        and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)  # a venv under bench/ is not ours
    ]
    lines = 0
    findings: list[tuple[str, SecretFinding]] = []
    started = time.perf_counter()
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines += text.count("\n")
        findings += [(str(path.relative_to(ROOT)), f) for f in find_secrets(text, path.name)]
    elapsed = time.perf_counter() - started
    report = {"files": len(files), "lines": lines, "findings": len(findings), "seconds": round(elapsed, 2)}
    print(json.dumps(report), [(p, f.kind) for p, f in findings])
    assert lines > 5_000
    assert len(findings) <= max(5, lines // 2_000), findings  # at most one per 2,000 lines


def test_scanning_a_large_context_is_fast() -> None:
    text = "\n".join(path.read_text() for path in sorted((ROOT / "routing").rglob("*.py")))
    text = (text * (64_000 // len(text) + 1))[:64_000]
    find_secrets(text)
    started = time.perf_counter()
    find_secrets(text)
    assert time.perf_counter() - started < 0.5  # 64 KB (about 16k tokens); typically ~20 ms
