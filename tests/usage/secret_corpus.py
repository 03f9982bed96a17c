"""Secrets in the forms people paste them, with fresh random values each run; and ordinary text that has none.

:func:`planted` returns ``(name, text, values)`` triples: Python (docstrings,
comments, strings), shell, YAML, compose, Kubernetes, ``.env``, TOML, INI,
JSON, properties, XML, connection strings, diffs and chat messages. Every
value comes from :mod:`secrets`, so no fixed string can pass by luck.
:data:`ORDINARY` is code and configuration that must come through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import uuid

_PASSWORD_CHARS = string.ascii_letters + string.digits + "!#%^*-_+"


def hex_value(nbytes: int = 20) -> str:
    return secrets.token_hex(nbytes)


def urlsafe(nbytes: int = 30) -> str:
    return secrets.token_urlsafe(nbytes)


def password(length: int = 18) -> str:
    """A typed-looking password: starts with a letter, has a digit and a symbol somewhere."""
    body = "".join(secrets.choice(_PASSWORD_CHARS) for _ in range(length - 3))
    return secrets.choice(string.ascii_letters) + body + secrets.choice(string.digits) + secrets.choice("!#%^*")


def aws_secret() -> str:
    """40 characters of base64 alphabet, the shape of an AWS secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def planted() -> list[tuple[str, str, list[str]]]:
    """``(name, text, values)``: each text carries its values in one of the forms people write them."""
    v = {name: maker() for name, maker in _VALUES.items()}
    b64 = base64.b64encode(v["k8s"].encode()).decode()
    cases = [
        (
            "python docstring with a pasted environment",
            f'''"""Deploy helper.

Environment (copied from the server)::

    AWS_ACCESS_KEY_ID=AKIA{secrets.token_hex(8).upper()}
    AWS_SECRET_ACCESS_KEY={v["aws"]}
    export DEPLOY_TOKEN={v["hex"]}
"""


def deploy() -> None:
    pass
''',
            [v["aws"], v["hex"]],
        ),
        ("python comment", f"# DB_PASSWORD={v['pw']}\nconnect()\n", [v["pw"]]),
        ("python string", f'ENV = "DB_PASSWORD={v["pw2"]}\\nDEBUG=0"\n', [v["pw2"]]),
        ("yaml pasted in a docstring", f'"""\ndatabase:\n  user: app\n  password: {v["pw3"]}\n"""\n', [v["pw3"]]),
        ("compose list in a comment", f"# environment:\n#   - SECRET_KEY={v['url']}\n#   - DEBUG=0\n", [v["url"]]),
        ("ini style in a comment", f"# [db]\n# password = {v['pw4']}\n", [v["pw4"]]),
        ("shell export", f"export API_TOKEN={v['url2']}\n./run.sh\n", [v["url2"]]),
        ("shell inline variable", f"DEPLOY_TOKEN={v['hex2']} ./deploy.sh --prod\n", [v["hex2"]]),
        ("shell PGPASSWORD", f"PGPASSWORD='{v['pw5']}' psql -h db -U app\n", [v["pw5"]]),
        ("cli flag", f"mysql --user=app --password={v['pw6']} shop\n", [v["pw6"]]),
        (
            "password flags",
            f"mysql -uapp -p{v['url10']} shop\nredis-cli -a {v['url11']} ping\ncurl -u deploy:{v['url12']} https://ci\n"
            f"docker login -u bot -p {v['url13']} registry.example.com\n",
            [v["url10"], v["url11"], v["url12"], v["url13"]],
        ),
        ("netrc", f"machine api.example.com login bot password {v['url14']}\n", [v["url14"]]),
        ("dockerfile env", f"ENV API_TOKEN {v['hex3']}\nRUN make\n", [v["hex3"]]),
        (
            "yaml config",
            f"database:\n  host: db\n  password: {v['pw7']}\nstripe:\n  api_key: {v['url3']}\n",
            [v["pw7"], v["url3"]],
        ),
        (
            "compose environment list and mapping",
            f"services:\n  web:\n    environment:\n      - SECRET_KEY={v['url4']}\n      - DEBUG=0\n"
            f"  worker:\n    environment:\n      CELERY_BROKER_PASSWORD: {v['pw8']}\n",
            [v["url4"], v["pw8"]],
        ),
        (
            "compose list, quoted",
            f'    environment:\n      - "JWT_SECRET={v["url5"]}"\n',
            [v["url5"]],
        ),
        (
            "kubernetes secret",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\n"
            f"data:\n  username: YWRtaW4=\n  db-conn: {b64}\nstringData:\n  config.ini: |\n"
            f"    [auth]\n    shared = {v['hex4']}\n  webhook: {v['url6']}\n",
            [b64, v["hex4"], v["url6"]],
        ),
        (
            "kubernetes env entry",
            f"env:\n  - name: DB_PASSWORD\n    value: {v['pw9']}\n  - name: LOG_LEVEL\n    value: info\n",
            [v["pw9"]],
        ),
        (
            ".env file",
            f"STRIPE_SECRET={v['url7']}\nSESSION_SECRET=\"{v['hex5']}\"\nJWT_SIGNING_KEY='{v['aws2']}'\n",
            [v["url7"], v["hex5"], v["aws2"]],
        ),
        (
            "toml",
            f'[database]\nhost = "db"\npassword = "{v["pw10"]}"\n[api]\ntoken = "{v["hex6"]}"\n',
            [v["pw10"], v["hex6"]],
        ),
        ("ini", f"[smtp]\nhost = mail\npass = {v['pw11']}\n", [v["pw11"]]),
        (
            "json",
            f'{{"client_id": "web", "client_secret": "{v["url8"]}", "auth": {{"password": "{v["pw12"]}"}}}}',
            [v["url8"], v["pw12"]],
        ),
        ("java properties", f"spring.datasource.password={v['pw13']}\n", [v["pw13"]]),
        ("xml", f"<config><password>{v['pw14']}</password></config>", [v["pw14"]]),
        ("connection url", f"DATABASE_URL=postgres://app:{v['url9']}@db:5432/app\n", [v["url9"]]),
        (
            "libpq key=value dsn",
            f'conn = psycopg.connect("host=db port=5432 user=app password={v["pw15"]} dbname=app")\n',
            [v["pw15"]],
        ),
        (
            "ado.net connection string",
            f'"Server=tcp:db,1433;Database=app;User Id=sa;Password={v["pw16"]};Encrypt=true;"',
            [v["pw16"]],
        ),
        ("jdbc url", f"jdbc:mysql://db:3306/app?user=app&password={v['pw17']}&useSSL=true\n", [v["pw17"]]),
        (
            "unified diff",
            f"--- a/.env\n+++ b/.env\n@@ -1,2 +1,2 @@\n-DB_PASSWORD={v['pw18']}\n+DB_PASSWORD={v['pw19']}\n"
            f" DEBUG=0\n--- a/k8s/secret.yaml\n+++ b/k8s/secret.yaml\n@@ -3,3 +3,3 @@\n kind: Secret\n data:\n"
            f"-  token: {v['b64a']}\n+  token: {v['b64b']}\n",
            [v["pw18"], v["pw19"], v["b64a"], v["b64b"]],
        ),
        (
            "chat message",
            f"Why does boto fail? I set AWS_SECRET_ACCESS_KEY={v['aws3']} and export DB_PASSWORD={v['hex7']}, "
            f"and my deploy token is {v['hex8']}.",
            [v["aws3"], v["hex7"], v["hex8"]],
        ),
    ]
    return cases


_VALUES = {
    "aws": aws_secret,
    "aws2": aws_secret,
    "aws3": aws_secret,
    "hex": hex_value,
    "hex2": hex_value,
    "hex3": hex_value,
    "hex4": hex_value,
    "hex5": hex_value,
    "hex6": hex_value,
    "hex7": hex_value,
    "hex8": lambda: hex_value(16),
    "url": urlsafe,
    "url2": urlsafe,
    "url3": urlsafe,
    "url4": urlsafe,
    "url5": urlsafe,
    "url6": urlsafe,
    "url7": urlsafe,
    "url8": urlsafe,
    "url9": urlsafe,
    **{f"url{i}": lambda: urlsafe(16) for i in range(10, 15)},
    "k8s": password,
    "b64a": lambda: base64.b64encode(secrets.token_bytes(24)).decode(),
    "b64b": lambda: base64.b64encode(secrets.token_bytes(24)).decode(),
    **{f"pw{i}": password for i in ("", *range(2, 20))},
}


_SHA = hashlib.sha1(b"hybrid-assist", usedforsecurity=False).hexdigest()
_SRI = "sha512-" + base64.b64encode(hashlib.sha512(b"left-pad").digest()).decode()

#: ``(name, text)``: code and configuration without a secret; redaction must leave every one untouched.
ORDINARY: list[tuple[str, str]] = [
    ("version strings", 'VERSION = "2.31.0"\nrequests==2.31.0\n"typescript": "^5.4.5",\nversion: 1.2.3-rc.1\n'),
    (
        "package-lock integrity",
        f'    "node_modules/js-tokens": {{\n      "version": "4.0.0",\n      "resolved": '
        f'"https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz",\n      "integrity": "{_SRI}"\n    }},\n',
    ),
    (
        "poetry.lock hashes",
        '[[package]]\nname = "tokenizers"\nversion = "0.19.1"\nfiles = [\n    {file = '
        f'"tokenizers-0.19.1-cp311-none-manylinux.whl", hash = "sha256:{hashlib.sha256(b"t").hexdigest()}"}},\n]\n',
    ),
    ("yarn.lock", f'js-tokens@^4.0.0:\n  version "4.0.0"\n  integrity {_SRI}\n'),
    ("uuids", f'REQUEST_ID = "{uuid.uuid4()}"\nsession_id: {uuid.uuid4()}\n'),
    ("git sha in text", f"Fixed the token refresh in {_SHA} (see commit {_SHA[:12]}).\n"),
    ("git sha in a string", f'PINNED_COMMIT = "{_SHA}"\n'),
    ("password from input", 'password = input("Password: ")\npw = getpass.getpass()\n'),
    ("token from a call", "token = get_token()\nrefresh_token = await client.refresh(token)\n"),
    ("api key from the environment", 'api_key = os.environ["API_KEY"]\nAPI_KEY = os.getenv("API_KEY", "")\n'),
    ("settings reference", "SECRET_KEY = settings.SECRET_KEY\nself.password = password\n"),
    ("keyword arguments", "client = Client(api_key=api_key, token=self.token, password=pw)\n"),
    ("type annotations", "def login(user: str, password: str, token: str | None = None) -> Session:\n"),
    ("placeholder changeme", "DB_PASSWORD=changeme\npassword: changeme\n"),
    ("placeholder angle brackets", "export OPENAI_API_KEY=<your-key>\napi_key: <your-api-key>\n"),
    ("placeholder variables", 'DB_PASSWORD=${DB_PASSWORD}\ntoken: "${TOKEN}"\nSECRET_KEY=$SECRET_KEY\n'),
    ("placeholder xxx", "API_TOKEN=xxx\npassword: xxxxxxxx\nSECRET=****\napi_key = 'sk-...'\n"),
    ("template", "password: {{ .Values.db.password }}\ntoken: '{{ token }}'\n"),
    ("env var names", 'api_key_env = "OPENAI_API_KEY"\ntoken_env: GITHUB_TOKEN\n'),
    ("paths and urls", "password_file: /run/secrets/db_password\ntoken_url: https://auth.example.com/oauth/token\n"),
    ("token counts", "max_tokens: 4096\nprompt_tokens = usage.prompt_tokens\ntoken_count=512\n"),
    ("special tokens", 'eos_token = "</s>"\npad_token: "<pad>"\nmask_token="[MASK]"\n'),
    ("kubernetes secret reference", "envFrom:\n  - secretRef:\n      name: db-credentials\nsecretName: tls-cert\n"),
    ("kubernetes configmap", "kind: ConfigMap\ndata:\n  LOG_LEVEL: info\n  WORKERS: '4'\n"),
    ("public key", "public_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv1exampleonlynotakey user@host\n"),
    ("boolean flags", "auth: true\nrequire_password: false\nuse_token = True\n"),
    (
        "password prompts on command lines",
        "mysql -u root -p shop\ndocker login -u bot --password-stdin\ncurl -u $USER:$PASS https://ci\n",
    ),
    ("prose", "Pass the token to the client; the password is checked by the server.\n"),
]
