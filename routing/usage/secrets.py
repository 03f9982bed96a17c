"""Secrets in context bound for the cloud: find them, and redact them to ``[REDACTED:kind]``.

The detectors are ``detect-secrets``' own plugin classes (AWS, GitHub,
GitLab, Slack, Stripe, OpenAI, JWT, private keys, basic auth in URLs,
``password = "..."`` keywords, high-entropy strings...), run on the text
directly — no global settings, no network verification. Their regular
expressions give the spans; the keyword and entropy findings pass through the
library's own false-positive heuristics (UUIDs, sequences, templates,
indirect references such as ``password = get_password()``). A few patterns
the library misses are added here: whole PEM private-key blocks, passwords in
connection strings (``postgres://user:pw@host``, ``Password=...;``), JWTs,
``Authorization: Basic/Bearer`` headers, and the newer provider key formats
(``sk-proj-``, ``sk-ant-``, Google ``AIza...``, Hugging Face ``hf_...``,
GitHub ``github_pat_...``).

detect-secrets' keyword rules want quotes or a known config file type, so the
forms people paste (``AWS_SECRET_ACCESS_KEY=...``, ``export TOKEN=...``,
``password: ...``, compose lists, Kubernetes Secrets, key=value DSNs, a random
value next to a secret-like name) are found by the project's own detectors in
:mod:`routing.usage.secret_forms`, whatever the file type, in code, comments,
strings, docstrings, diffs and chat messages; their spans are the value only
(``DB_PASSWORD=[REDACTED:password]``), and an entropy finding around such a
value is dropped so the key name stays readable.

Scanning is the literal-prefixed expressions over the whole text plus the
assignment rules on the lines that mention a keyword (about 0.2 ms per KB on
one core: ~17 ms for a 2,000-line, 86 KB Python file). Quoted hex strings of
digest length (checksums, commit ids), subresource-integrity hashes
(``sha512-...`` in lockfiles) and ``data:`` URIs are not flagged by entropy
alone. A :class:`SecretFinding` holds the kind and span only, never the secret.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from detect_secrets.filters import heuristic
from detect_secrets.plugins import keyword
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import determine_file_type

from routing.usage.secret_forms import assignment_spans, command_spans, is_placeholder, kubernetes_spans

#: detect-secrets' entropy thresholds (its defaults).
BASE64_ENTROPY_LIMIT = 4.5
HEX_ENTROPY_LIMIT = 3.0
#: A quoted string this long is data (an embedded image, a fixture), not a credential.
MAX_ENTROPY_STRING = 200
#: Lengths of hex digests (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512): such strings in code are checksums and
#: commit ids, so entropy alone does not flag them (``api_key = "<hex>"`` is still found by the keyword rules).
DIGEST_HEX_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
#: Lowercase words of which a line must hold one for the line-wise detectors (assignments, headers) to run.
_LINE_HINTS = ("key", "pass", "pw", "secret", "token", "auth", "bearer", "contrase", "cloudant", "cred", "salt")


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """A secret of ``kind`` at ``text[start:end]``."""

    kind: str
    start: int
    end: int


# The library's regex plugins run over the whole text; the span is the whole match. A plugin with needles runs
# only when one of them occurs in the text (a cheap ``in`` test in front of a regex that has no literal prefix).
# The IP detector is left out on purpose: addresses are not credentials.
_TEXT_PLUGINS: tuple[tuple[type[RegexBasedDetector], tuple[str, ...]], ...] = (
    (ArtifactoryDetector, ("AKC", *(f"AP{c}" for c in "0123456789ABCDEF"))),
    (AWSKeyDetector, ()),
    (AzureStorageKeyDetector, ("AccountKey=",)),
    (DiscordBotTokenDetector, ()),
    (GitHubTokenDetector, ()),
    (GitLabTokenDetector, ()),
    (JwtTokenDetector, ("eyJ",)),
    (MailchimpDetector, ("-us",)),
    (NpmDetector, ("_authToken",)),
    (OpenAIDetector, ("sk-",)),
    (PrivateKeyDetector, ("PRIVATE",)),
    (PypiTokenDetector, ("pypi-",)),
    (SendGridDetector, ("SG.",)),
    (SlackDetector, ("xox", "XOX", "hooks.slack.com")),
    (SquareOAuthDetector, ()),
    (StripeDetector, ("k_live_",)),
    (TelegramBotTokenDetector, ()),
    (TwilioKeyDetector, ()),
)
# Assignment-shaped plugins (``cloudant_password = ...``): slow over a whole text, so run on hinted lines only.
_LINE_PLUGINS: tuple[type[RegexBasedDetector], ...] = (
    CloudantDetector,
    IbmCloudIamDetector,
    IbmCosHmacDetector,
    SoftlayerDetector,
)

# (kind, pattern, group): what detect-secrets misses or only half-covers; ``group`` is the secret. Each starts with
# a literal so the scan over the whole text stays fast; ``_bounded`` checks the left word boundary.
_TEXT_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "private_key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END \1PRIVATE KEY\2-----"
            r"|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?=\n[ \t]*\n|\Z)"
        ),
        0,
    ),
    ("password_in_url", re.compile(r"://[^\s:/@'\"<>]*:([^\s@/'\"<>]+)@[\w.\[\]-]"), 1),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 0),
    ("openai_api_key", re.compile(r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"), 0),
    ("anthropic_api_key", re.compile(r"sk-ant-[A-Za-z0-9_-]{32,}"), 0),
    ("google_api_key", re.compile(r"AIza[0-9A-Za-z_-]{35}"), 0),
    ("huggingface_token", re.compile(r"hf_[A-Za-z0-9]{30,}"), 0),
    ("github_token", re.compile(r"github_pat_[A-Za-z0-9_]{22,}"), 0),
)
# Line-wise patterns, run on hinted lines only.
_LINE_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "connection_string_password",
        re.compile(r"(?i)(?:^|[;\s\"'])(?:password|pwd)\s*=\s*([^;\s\"'()&]+)\s*(?=;|$)"),
        1,
    ),
    (
        "basic_auth_header",
        re.compile(r"(?i)\bauthorization\b[\"'\]]{0,2}\s*[:=,]\s*[\"']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"),
        1,
    ),
    ("bearer_token", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{20,}=*)"), 1),
)
_QUOTED_CANDIDATE = re.compile(r"([\"'])([A-Za-z0-9+/=_.-]{20,})\1")
#: Subresource-integrity hashes (``"integrity": "sha512-..."`` in package-lock.json, yarn.lock): checksums.
_INTEGRITY = re.compile(r"(?:sha(?:1|224|256|384|512)|md5)[-:]")
_UPPER_IDENTIFIER = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def find_secrets(text: str, filename: str = "") -> list[SecretFinding]:
    """Secrets in ``text``, sorted by position, overlapping findings merged.

    ``filename`` (optional) picks the keyword rules of its language: in
    config files (``.ini``, ``.yaml``, ``.toml``, ``.properties``...) values
    need no quotes; elsewhere ``password = ...`` counts only when quoted.
    """
    lines = _hinted_lines(text)
    # The project's own detectors first: on a tie their kind (``password``, ``token``...) names the merged span.
    spans = (*kubernetes_spans(text), *assignment_spans(lines), *command_spans(text))
    keyed = [SecretFinding(*span) for span in spans]
    findings = [*keyed, *_text_findings(text)]
    findings += _line_findings(lines, filename)
    findings += _without_keyed(_entropy_findings(text), keyed)
    return _merge(findings)


def redact(text: str, filename: str = "") -> tuple[str, list[SecretFinding]]:
    """``text`` with each secret replaced by ``[REDACTED:kind]``, and the findings (spans in the original)."""
    findings = find_secrets(text, filename)
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(f"[REDACTED:{finding.kind}]")
        position = finding.end
    parts.append(text[position:])
    return "".join(parts), findings


@functools.cache
def _text_plugins() -> tuple[tuple[RegexBasedDetector, str, tuple[str, ...]], ...]:
    return tuple((plugin(), _kind(plugin), needles) for plugin, needles in _TEXT_PLUGINS)


@functools.cache
def _line_plugins() -> tuple[tuple[RegexBasedDetector, str], ...]:
    return tuple((plugin(), _kind(plugin)) for plugin in _LINE_PLUGINS)


@functools.cache
def _keyword_plugin() -> keyword.KeywordDetector:
    return keyword.KeywordDetector()


@functools.cache
def _entropy_plugins() -> tuple[tuple[Base64HighEntropyString | HexHighEntropyString, str, float], ...]:
    base64 = Base64HighEntropyString(limit=BASE64_ENTROPY_LIMIT)
    hexadecimal = HexHighEntropyString(limit=HEX_ENTROPY_LIMIT)
    return (
        (hexadecimal, _kind(hexadecimal), HEX_ENTROPY_LIMIT),
        (base64, _kind(base64), BASE64_ENTROPY_LIMIT),
    )


def _kind(plugin: BasePlugin | type[BasePlugin]) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(plugin.secret_type).lower()).strip("_")


def _bounded(text: str, start: int) -> bool:
    """No word character (or dash) right before ``start``."""
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def _text_findings(text: str) -> Iterator[SecretFinding]:
    for plugin, kind, needles in _text_plugins():
        if needles and not any(needle in text for needle in needles):
            continue
        for pattern in plugin.denylist:
            for match in pattern.finditer(text):
                if match.start() == match.end():
                    continue
                if isinstance(plugin, JwtTokenDetector) and not plugin.is_formally_valid(match.group()):
                    continue
                yield SecretFinding(kind, match.start(), match.end())
    if "@" in text:
        for pattern in BasicAuthDetector.denylist:  # the password of ``scheme://user:password@host``
            for match in pattern.finditer(text):
                yield SecretFinding("basic_auth_credentials", match.start(1), match.end(1))
    for kind, pattern, group in _TEXT_PATTERNS:
        for match in pattern.finditer(text):
            if match.start(group) < match.end(group) and (group or _bounded(text, match.start())):
                yield SecretFinding(kind, match.start(group), match.end(group))


def _hinted_lines(text: str) -> list[tuple[int, str]]:
    """``(offset, line)`` of every line that holds one of the hint words (case-insensitively)."""
    lower = text.lower()
    starts: set[int] = set()
    for word in _LINE_HINTS:
        position = lower.find(word)
        while position >= 0:
            line_start = text.rfind("\n", 0, position) + 1
            starts.add(line_start)
            line_end = text.find("\n", position)
            if line_end < 0:
                break
            position = lower.find(word, line_end)
    lines = []
    for start in sorted(starts):
        end = text.find("\n", start)
        lines.append((start, text[start : end if end >= 0 else len(text)].rstrip("\r")))
    return lines


def _line_findings(lines: list[tuple[int, str]], filename: str) -> list[SecretFinding]:
    keywords = _keyword_plugin()
    if PurePath(filename).name.startswith(".env"):
        filename = "dotenv.ini"  # KEY=value files: values need no quotes
    rules = keyword.REGEX_BY_FILETYPE.get(
        determine_file_type(filename), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
    )
    findings = []
    for offset, line in lines:
        if len(line) > 2000:  # minified or generated: the assignment rules backtrack badly on such lines
            continue
        for plugin, kind in _line_plugins():
            for pattern in plugin.denylist:
                for match in pattern.finditer(line):
                    findings.append(SecretFinding(kind, offset + match.start(), offset + match.end()))
        for kind, pattern, group in _LINE_PATTERNS:
            for match in pattern.finditer(line):
                findings.append(SecretFinding(kind, offset + match.start(group), offset + match.end(group)))
        for pattern, group in rules.items():
            found = pattern.search(line)
            if found is None or _looks_harmless(found.group(group), line, keywords):
                continue
            if heuristic.is_indirect_reference(line):  # ``password = get_password()``; slow, so last
                break
            findings.append(SecretFinding("secret_keyword", offset + found.start(group), offset + found.end(group)))
    return findings


def _entropy_findings(text: str) -> list[SecretFinding]:
    findings = []
    for match in _QUOTED_CANDIDATE.finditer(text):
        value = match.group(2)
        if len(value) > MAX_ENTROPY_STRING:
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        if "data:" in line or _INTEGRITY.match(value):
            continue
        for plugin, kind, limit in _entropy_plugins():
            if not set(value) <= set(plugin.charset) or plugin.calculate_shannon_entropy(value) <= limit:
                continue
            if isinstance(plugin, HexHighEntropyString) and len(value) in DIGEST_HEX_LENGTHS:
                break
            if not _looks_harmless(value, line, plugin):
                findings.append(SecretFinding(kind, match.start(2), match.end(2)))
            break
    return findings


def _without_keyed(entropy: list[SecretFinding], keyed: list[SecretFinding]) -> list[SecretFinding]:
    """Entropy findings less those around a keyed value (``"DB_PASSWORD=..."``): the key name stays readable."""
    if not keyed:
        return entropy
    return [e for e in entropy if not any(e.start <= k.start and k.end <= e.end for k in keyed)]


def _looks_harmless(secret: str, line: str, plugin: BasePlugin) -> bool:
    """detect-secrets' heuristics for values that are not credentials, and environment variable names."""
    return (
        is_placeholder(secret)
        or heuristic.is_templated_secret(secret)
        or heuristic.is_prefixed_with_dollar_sign(secret)
        or heuristic.is_sequential_string(secret)
        or heuristic.is_potential_uuid(secret)
        or heuristic.is_not_alphanumeric_string(secret)
        or heuristic.is_likely_id_string(secret, line, plugin)
        or _UPPER_IDENTIFIER.fullmatch(secret) is not None
    )


def _merge(findings: list[SecretFinding]) -> list[SecretFinding]:
    """Overlapping spans become one; it takes the kind of its longest part."""
    merged: list[tuple[int, int, str, int]] = []  # start, end, kind, length of the kind's span
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        length = finding.end - finding.start
        if merged and finding.start < merged[-1][1]:
            start, end, kind, best = merged[-1]
            if length > best:
                kind, best = finding.kind, length
            merged[-1] = (start, max(end, finding.end), kind, best)
        else:
            merged.append((finding.start, finding.end, finding.kind, length))
    return [SecretFinding(kind, start, end) for start, end, kind, _ in merged]
