"""Secrets in the forms people write them, where detect-secrets' keyword rules miss them.

detect-secrets' keyword plugin wants quotes, or a known config file type,
before it believes ``password = value``; pasted environments, YAML, compose
lists and Kubernetes Secrets arrive in prompts as plain text, inside
docstrings, comments, strings, diffs and chat messages. These detectors work
on the text alone:

- ``KEY=value``, ``export KEY=value``, ``- KEY=value`` (compose lists),
  ``key: value`` (YAML, TOML, INI, JSON, properties, JS objects),
  ``key => value``, ``key := value``, ``--key=value``, ``<key>value</key>``,
  and key=value DSNs (``host=db password=... dbname=app``), under a
  secret-like key (:func:`secret_key_kind`);
- a high-entropy value next to a secret-like name, separated by spaces or a
  few filler words (``ENV API_TOKEN 3f9c...``, "the deploy token is 3f9c...");
- Kubernetes ``env`` entries (``- name: DB_PASSWORD`` / ``value: ...``);
- every value under ``data:``/``stringData:`` of a Kubernetes Secret, in
  YAML, also behind diff markers, comment markers and ``12| `` line numbers;
- passwords on command lines that take them as flags (``mysql -p...``,
  ``docker login -p``, ``redis-cli -a``, ``sshpass -p``, ``curl -u user:pw``)
  and in ``.netrc`` lines.

A finding's span is the value only, so ``DB_PASSWORD=[REDACTED:password]``
stays readable. The false-positive guard is the value: code (``get_token()``,
``os.environ["API_KEY"]``, ``settings.SECRET_KEY``), names and types,
placeholders (``changeme``, ``<your-key>``, ``${VAR}``, ``xxx``), numbers,
versions, paths and URLs are not secrets. Unquoted values that look like
identifiers count only when they look random (digits and letters), unless
the context says they are literal (quoted, or an ``UPPER_CASE`` environment
variable). Findings are ``(kind, start, end)`` tuples; the caller
(:mod:`routing.usage.secrets`) wraps them.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator

Span = tuple[str, int, int]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Segments of a key name that make it secret-like, with the kind they report (first match wins).
_STRONG_SEGMENTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("password", frozenset({"password", "passwd", "passwort", "passphrase", "pass", "pwd", "pw", "contrasena"})),
    ("private_key", frozenset({"privatekey"})),
    ("secret", frozenset({"secret", "clientsecret"})),
    ("token", frozenset({"token", "accesstoken", "authtoken", "apitoken", "bearertoken", "refreshtoken"})),
    ("api_key", frozenset({"apikey", "accesskey", "secretkey"})),
    ("credentials", frozenset({"credential", "credentials", "creds"})),
)
#: Suffixes that make a one-word key secret-like (``PGPASSWORD``, ``DBPASS``... but not ``monkey``).
_STRONG_SUFFIXES = (("password", "password"), ("passwd", "password"), ("secret", "secret"), ("apikey", "api_key"))
#: A segment after the secret word that makes the key name something else (``token_url``, ``password_file``).
_NOT_THE_VALUE = _words(
    "url uri urls endpoint host file filename files path paths dir directory name names env envvar var variable "
    "id ids type types length len size count counts ttl expiry expires expiration exp timeout lifetime age field "
    "fields header headers prefix suffix regex re pattern policy min max limit limits kind label ref arn format "
    "version encoding algorithm algo alg location store provider manager source mode method required enabled "
    "enable disabled reset hint strength validator validation input prompt placeholder template usage budget "
    "index position offset class cls fn func function callback handler factory generator request response schema "
    "model cache loader column col scope scopes audience issuer attribute attr param parameter option flag help "
    "description desc doc docs msg message error text title rotation created updated at issued ratio per rate "
    "used usage estimate estimator counter dict map list set table key_id keyid path_env command cmd script "
    "helper service_name secret_name ok valid invalid match matches check mask masks ids embed embedding embeddings"
)
#: A segment before the secret word that makes the key name something else (``public_key``, ``max_tokens``).
_NOT_A_SECRET_BEFORE = _words(
    "public pub publishable max min num total eos bos pad unk sep cls mask special next page sort primary foreign "
    "partition cache lookup idempotency hot row column index dict map hash range composite unique object s3 shard "
    "sharding routing group prompt completion output input context tokenizer count short shortcut keyboard"
)
#: ``...key`` names count only when the value looks random (``ENCRYPTION_KEY``, ``STRIPE_KEY``, but not ``SORT_KEY``).
_WEAK_SEGMENTS = frozenset({"key", "keys", "salt", "signature", "sig", "hmac", "dsn", "license"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")

# key, optional closing quote/bracket (``"password":``, ``environ["TOKEN"] =``), separator; the value is matched
# after it, so a match never swallows the next assignment (``x = "DB_PASSWORD=..."``).
_ASSIGNMENT = re.compile(
    r"(?<![\w.$])(?P<key>[A-Za-z_][\w.\-]{0,80}?)[\"']?\]?"
    r"(?P<pre>[ \t]*)(?P<sep>=>|:=|=(?!=)|:(?![:/]))(?P<post>[ \t]*)"
)
_VALUE = re.compile(
    r"(?P<q>[\"'])(?P<qv>[^\"'\n]{1,300})(?P=q)|(?P<uv>[^\s\"'`;&,<>()\[\]{}\\|]{1,300})(?P<next>[(\[]?)"
)
# a secret-like name, then spaces (and at most two filler words), then a value: judged by its randomness only.
_NEAR = re.compile(
    r"(?<![\w.$])(?P<key>[A-Za-z_][\w.\-]{0,80}?)[\"']?[ \t]+(?:(?:is|was|are|to|as|of|set|=|:|->|=>)[ \t]+){0,2}"
)
_NEAR_VALUE = re.compile(r"[\"'`]?(?P<value>[A-Za-z0-9+/_\-.~=]{16,300})(?![\w+/=\-])")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[ \t]+$")
_XML = re.compile(r"<(?P<key>[A-Za-z_][\w.\-:]{0,80})>(?P<value>[^<\s]{1,300})</(?P=key)>")
# ``- name: DB_PASSWORD`` on one line, ``value: ...`` on the next (matched from the line of ``value:``).
_ENV_NAME = re.compile(r"\bname:[ \t]*[\"']?(?P<key>[A-Za-z_][\w.\-]{0,80})[\"']?[ \t]*\r?$")
_ENV_VALUE = re.compile(r"[ \t]*(?:(?P<q>[\"'])(?P<qv>[^\"'\n]{1,300})(?P=q)|(?P<uv>[^\s\"']{1,300}))")
#: A run of value characters long enough for :func:`looks_random`: lines without one skip the proximity rule.
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_\-.~=]{16}")

_UPPER_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_SNAKE = re.compile(r"_*[a-z][a-z0-9]*(?:_+[a-z0-9]+)+_*|_*[A-Z][A-Z0-9]*(?:_+[A-Z0-9]+)+_*")
_NAME_LIKE = re.compile(
    r"_*[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"  # ENV_VAR names
    r"|_*[a-z]+(?:_[a-z]+)*"  # snake_case
    r"|[a-z]+(?:[A-Z][a-z]+)+"  # camelCase
    r"|(?:[A-Z][a-z]+)+"  # PascalCase types
)
_WORDS = re.compile(r"[a-z]+(?:[-_. ][a-z]+)+")  # ``late-interaction``, ``read.only``
_NUMBER = re.compile(r"0x[0-9a-fA-F_]+|0b[01_]+|0o[0-7_]+|[-+]?\d[\d_.eE+-]*")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]{2,}")
_VOWEL = re.compile(r"[aeiouy]")
_VERSION = re.compile(r"[v^~=<>]*\d+(?:\.\d+)+(?:[-+._]?[A-Za-z0-9.]+)?")
_PATH = re.compile(r"(?:~|\.{1,2}|[A-Za-z]:)?[/\\](?:[\w.@\-]+[/\\])*[\w.@\-]*")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PLACEHOLDER_WORDS = (
    "changeme", "change_me", "change-me", "changeit", "placeholder", "your_", "your-", "yourkey", "yourpass",
    "yoursecret", "yourtoken", "****", "...", "…", "redacted", "{{", "${", "%(", "replace_me", "replace-me",
    "insert_", "insert-", "enter_", "enter-",
)  # fmt: skip
_PLACEHOLDER_WORD = re.compile("|".join(map(re.escape, _PLACEHOLDER_WORDS)))
_SPACE = re.compile(r"\s")
_LETTER = re.compile(r"[^\W\d_]")
_PLACEHOLDER_PREFIXES = ("example", "sample", "dummy", "fake", "test_", "test-", "todo", "fixme", "sk-...", "[redacted")
_PLACEHOLDER_VALUES = _words(
    "password passwd secret token key none null nil true false yes no on off undefined empty test testing "
    "default required optional string str bytes int bool any unset notset hidden masked secretstr"
)
_GUTTER = re.compile(r"(?:[ \t]*\d+\| ?)?(?:[+\-](?=[ \t]*[\w\"'])|[ \t]*(?:#|//|\*|>)[ \t]?)?")
_YAML_KEY = re.compile(
    r"(?P<indent>[ \t]*)[\"']?(?P<key>[^\s:\"'#][^:\"'#]*?)[\"']?[ \t]*:(?:[ \t]+(?P<value>.*?))?[ \t]*$"
)
_SECRET_KIND = re.compile(r"\bkind:[ \t]*[\"']?Secret[\"']?[ \t]*$", re.MULTILINE)


@functools.lru_cache(maxsize=4096)
def secret_key_kind(key: str) -> tuple[str, bool] | None:
    """``(kind, strong)`` when ``key`` names a secret; ``strong`` keys need less convincing values.

    >>> secret_key_kind("AWS_SECRET_ACCESS_KEY"), secret_key_kind("token_url"), secret_key_kind("ENCRYPTION_KEY")
    (('secret', True), None, ('key', False))
    """
    words = [w.lower() for part in _SPLIT.split(key) for w in _CAMEL.split(part) if w]
    if not words:
        return None
    for i, word in enumerate(words):
        kind = _strong_kind(word)
        if kind is None and word == "api" and i + 1 < len(words) and words[i + 1] == "key":
            kind = "api_key"
        if kind is not None:
            if any(w in _NOT_THE_VALUE for w in words[i + 1 :]) or any(w in _NOT_A_SECRET_BEFORE for w in words[:i]):
                return None
            return kind, True
    if words[-1] in _WEAK_SEGMENTS or (len(words) > 1 and words[-2] in _WEAK_SEGMENTS and words[-1] == "base"):
        if len(words) == 1 or any(w in _NOT_A_SECRET_BEFORE for w in words[:-1]):
            return None  # a bare ``key:`` is everywhere (YAML selectors, dicts)
        return ("salt" if words[-1] == "salt" else "key"), False
    return None


def _strong_kind(word: str) -> str | None:
    for kind, segments in _STRONG_SEGMENTS:
        if word in segments:
            return kind
    for suffix, kind in _STRONG_SUFFIXES:
        if len(word) > len(suffix) + 1 and word.endswith(suffix):
            return kind
    return None


def assignment_spans(lines: Iterable[tuple[int, str]]) -> Iterator[Span]:
    """Values under secret-like keys, and random values next to secret-like names, on ``(offset, line)`` pairs."""
    for offset, line in lines:  # every pattern is bounded, so a long (minified) line costs linear time too
        literal_line = line.lstrip(" \t+-#>*").startswith(("export ", "set ", "setenv ", "ENV ", "ARG "))
        for match in _ASSIGNMENT.finditer(line):
            named = secret_key_kind(match.group("key"))
            found = _VALUE.match(line, match.end()) if named is not None else None
            if named is None or found is None:
                continue
            kind, strong = named
            quoted = found.group("q") is not None
            if quoted:
                value, start = found.group("qv"), found.start("qv")
            elif found.group("next") or found.group("uv")[:1] in "!&*@" or is_placeholder(found.group("uv")):
                continue  # code (``input(...)``, ``os.environ[...]``), YAML tags and anchors, ``sk-...``
            else:
                value, start = found.group("uv").rstrip(".,:?"), found.start("uv")
            env_style = _UPPER_KEY.fullmatch(match.group("key")) is not None
            tight = match.group("sep") == "=" and not match.group("pre") and not match.group("post")
            literal = quoted or literal_line or (env_style and tight)
            if _is_secret_value(value, strong=strong, literal=literal, password=kind == "password"):
                yield kind, offset + start, offset + start + len(value)
        for match in _NEAR.finditer(line) if _LONG_RUN.search(line) else ():
            key, joined = match.group("key"), False
            if key.lower() in ("key", "keys"):  # "the api key is ...": the word before says which key
                before = _WORD_BEFORE.search(line, 0, match.start())
                key, joined = (f"{before.group(1)}_{key}", True) if before else (key, False)
            named = secret_key_kind(key)
            if key.lower() in ("pass", "pw") or named is None or (joined and not named[1]):
                continue  # "pass" is an English word first; "sees keys 0..n" is prose, "api key 3f9c..." is not
            near = _NEAR_VALUE.match(line, match.end())
            if near is None or line[near.end() : near.end() + 1] in ("(", "["):  # ``b64decode(...)``: code
                continue
            value = near.group("value").rstrip(".")
            if looks_random(value) and not _DOTTED.fullmatch(value):
                yield named[0], offset + near.start("value"), offset + near.start("value") + len(value)
        if "</" in line:
            for match in _XML.finditer(line):
                named = secret_key_kind(match.group("key"))
                if named is not None and _is_secret_value(match.group("value"), strong=named[1], literal=True):
                    yield named[0], offset + match.start("value"), offset + match.end("value")


_FLAG_VALUE = r"[ \t]*[\"']?(?P<value>[^\s\"';&|`]{1,300})"
#: (needles, pattern): a command that takes a password as a flag; the pattern runs only when a needle is in the text.
_COMMANDS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("mysql", "mariadb"), re.compile(r"\b(?:mysql\w*|mariadb\w*)\b[^\n]*?(?<!\S)-p(?P<value>[^\s\"';&|`]{1,300})")),
    (
        (" login",),
        re.compile(
            r"\b(?:docker|podman|nerdctl|buildah|oras|helm registry) login\b[^\n]*?(?<!\S)(?:-p|--password)(?:=|[ \t])"
            + _FLAG_VALUE
        ),
    ),
    (("redis-cli",), re.compile(r"\bredis-cli\b[^\n]*?(?<!\S)(?:-a|--pass)[ \t]" + _FLAG_VALUE)),
    (("sshpass",), re.compile(r"\bsshpass\b[^\n]*?(?<!\S)-p" + _FLAG_VALUE)),
    (("mongo",), re.compile(r"\bmongo(?:sh)?\b[^\n]*?(?<!\S)(?:-p|--password)(?:=|[ \t])" + _FLAG_VALUE)),
    (
        ("curl", "wget", "http "),
        re.compile(
            r"\b(?:curl|wget|http)\b[^\n]*?(?<!\S)(?:-u|--user)(?:=|[ \t]+)[\"']?[^\s:\"']{1,100}:"
            r"(?P<value>[^\s\"']{1,300})"
        ),
    ),
    (("machine",), re.compile(r"\bmachine[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+password[ \t]+(?P<value>\S{1,300})")),
)


def command_spans(text: str) -> Iterator[Span]:
    """Passwords given as command-line flags, and ``.netrc`` entries."""
    for needles, pattern in _COMMANDS:
        for offset, line in _lines_with(text, needles):
            for match in pattern.finditer(line):
                value = match.group("value")
                if _is_secret_value(value, strong=True, literal=True, password=True):
                    yield "password", offset + match.start("value"), offset + match.end("value")


def _lines_with(text: str, needles: tuple[str, ...]) -> list[tuple[int, str]]:
    """``(offset, line)`` of the lines holding a needle (a plain search: the patterns then run on those only)."""
    starts: set[int] = set()
    for needle in needles:
        position = text.find(needle)
        while position >= 0:
            start = text.rfind("\n", 0, position) + 1
            starts.add(start)
            end = text.find("\n", position)
            position = text.find(needle, end) if end >= 0 else -1
    lines = []
    for start in sorted(starts):
        end = text.find("\n", start)
        lines.append((start, text[start : end if end >= 0 else len(text)]))
    return lines


def kubernetes_spans(text: str) -> Iterator[Span]:
    """Values of Kubernetes Secrets (``data``/``stringData``) and of ``env`` entries named like secrets."""
    position = text.find("value:") if "name:" in text else -1
    while position >= 0:
        line_start = text.rfind("\n", 0, position) + 1
        previous = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
        name = _ENV_NAME.search(text, previous, line_start - 1) if line_start else None
        named = secret_key_kind(name.group("key")) if name else None
        found = _ENV_VALUE.match(text, position + len("value:")) if named else None
        if named and found:
            group = "qv" if found.group("q") is not None else "uv"
            if _is_secret_value(found.group(group), strong=named[1], literal=True):
                yield named[0], found.start(group), found.end(group)
        position = text.find("value:", position + 1)
    if "stringData:" in text or ("data:" in text and "Secret" in text and _SECRET_KIND.search(text) is not None):
        yield from _secret_data_spans(text)


def _secret_data_spans(text: str) -> Iterator[Span]:
    """Every value under ``data:``/``stringData:`` in the YAML documents of ``text`` that are Kubernetes Secrets."""
    documents: list[list[tuple[int, int, str]]] = [[]]  # (offset of the content, indent, content) per line
    offset = 0
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        gutter = _GUTTER.match(line)
        body = line[gutter.end() if gutter else 0 :]
        content = body.lstrip(" \t")
        if content.startswith(("---", "```")):
            documents.append([])
        else:
            documents[-1].append((offset + len(line) - len(content), len(body) - len(content), content))
        offset += len(raw) + 1
    for lines in documents:
        if not any(c.startswith("stringData:") or _SECRET_KIND.search(c) for _, _, c in lines):
            continue
        block: int | None = None  # indent of the ``data:`` key while inside its block
        scalar: int | None = None  # indent of a ``key: |`` inside the block while in its text
        for start, indent, content in lines:
            if not content or content.startswith("#"):
                continue
            if scalar is not None and indent > scalar:
                yield "kubernetes_secret", start, start + len(content)
                continue
            scalar = None
            if block is not None and indent <= block:
                block = None
            if block is None:
                if content.split("#", 1)[0].strip() in ("data:", "stringData:"):
                    block = indent
                continue
            found = _YAML_KEY.fullmatch(content)
            value = (found.group("value") or "") if found else ""
            if not value:
                continue
            if value[:1] in "|>":
                scalar = indent
                continue
            if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
                value_start = start + found.start("value") + 1 if found else start
                value = value[1:-1]
            else:
                value_start = start + found.start("value") if found else start
            if value and not is_placeholder(value):
                yield "kubernetes_secret", value_start, value_start + len(value)


def looks_random(value: str) -> bool:
    """Long, digits and letters, high entropy, and not a version, path, URL or name."""
    if len(value) < 16 or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    if "=" in value.rstrip("=") or _is_code_name(value):
        return False
    if _VERSION.fullmatch(value) or _is_path(value) or _NAME_LIKE.fullmatch(value) or _SNAKE.fullmatch(value):
        return False
    if "://" in value:
        return False
    return not is_placeholder(value) and _entropy(value) >= 3.0


def _is_secret_value(value: str, *, strong: bool, literal: bool, password: bool = False) -> bool:
    """Whether ``value`` under a secret-like key is a credential rather than code, a name or a placeholder."""
    if not strong:
        return looks_random(value)
    if len(value) < 6 or _SPACE.search(value) or is_placeholder(value):
        return False
    if not _LETTER.search(value) or _NUMBER.fullmatch(value):  # numbers, ports, ``^4.0.0``, ``0x5F``
        return False
    if "://" in value or _EMAIL.fullmatch(value) or _VERSION.fullmatch(value) or _is_path(value):
        return False
    if _DOTTED.fullmatch(value):  # ``settings.SECRET_KEY``, ``self.token``: a reference
        return False
    if _NAME_LIKE.fullmatch(value):  # ``pw``, ``api_key``, ``SecretStr``, ``OPENAI_API_KEY``; a word is a password
        return password and literal and _UPPER_KEY.fullmatch(value) is None and "_" not in value and len(value) >= 8
    if not literal and value[:1] in "-~!+" and _is_code_name(value.lstrip("-~!+")):  # ``-index``: an expression
        return False
    if _SNAKE.fullmatch(value) or _WORDS.fullmatch(value):  # ``keep_old_secret_24h``, ``kFp8Sym``, ``late-interaction``
        return password and literal and _WORDS.fullmatch(value) is not None
    if _IDENTIFIER.fullmatch(value):  # mixed digits and letters: ``hunter2hunter2``, hex, but not ``token2``
        if literal or (len(value) >= 8 and sum(c.isdigit() for c in value) >= 2):
            return True
        return len(value) >= 20 and not value.islower() and not value.isupper() and _entropy(value) >= 4.2
    return True


def _is_path(value: str) -> bool:
    """``/run/secrets/db``, ``~/.ssh/id_rsa``; not base64 that happens to start with a slash."""
    if _PATH.fullmatch(value) is None:
        return False
    return not any(
        len(part) >= 12 and not part.islower() and not part.isupper() and any(c.isdigit() for c in part)
        for part in re.split(r"[/\\]", value)
    )


def _is_code_name(value: str) -> bool:
    """``kFp8StaticTensorSym``, ``keep_old_secret_24h``: names built of words, not random characters."""
    if _SNAKE.fullmatch(value) or _NAME_LIKE.fullmatch(value):
        return True
    if len(value) > 24 or 4 * sum(c.isdigit() for c in value) > len(value) or _IDENTIFIER.fullmatch(value) is None:
        return False  # generated keys are longer; names are mostly letters
    words = (w for w in _CAMEL_WORD.findall(value) if _VOWEL.search(w, 1))
    return 2 * sum(map(len, words)) >= len(value)  # mostly capitalised, pronounceable words


def is_placeholder(value: str) -> bool:
    """``changeme``, ``<your-key>``, ``${VAR}``, ``xxx``, ``sk-...``, ``[MASK]``: not a value anyone would hide."""
    lower = value.lower()
    return (
        lower in _PLACEHOLDER_VALUES
        or value[:1] in "$%<{"
        or _PLACEHOLDER_WORD.search(lower) is not None
        or "xxxx" in value
        or "XXXX" in value
        or len(set(lower)) <= 2
        or ("<" in value and ">" in value)  # ``<your-key>``, ``<|endoftext|>``
        or value[:1] + value[-1:] in ("[]", "||", "()")  # markup: ``[MASK]``, ``|SEP|``
        or (value.startswith("__") and value.endswith("__"))  # ``__dummy__``
        or lower.startswith(_PLACEHOLDER_PREFIXES)
    )


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
