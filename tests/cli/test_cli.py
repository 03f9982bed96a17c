"""The ``hybrid-assist`` command as a user runs it: version, config, complete, doctor."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lsp.harness import server_env, write_config

CLI = [sys.executable, "-m", "hybrid_assist.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path, write_config(tmp_path, reply="return self.width * self.height"))


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}")
    return result


def test_version(env: dict[str, str]) -> None:
    assert run(env, "version").stdout.strip().startswith("hybrid-assist 0.")


def test_config_schema_and_docs(env: dict[str, str], tmp_path: Path) -> None:
    schema = json.loads(run(env, "config", "schema").stdout)
    assert schema["title"] == "hybrid-assist configuration"
    for section in ("local", "providers", "routing", "analysis", "completion", "ledger", "sensitive"):
        assert section in schema["properties"]
    out = tmp_path / "CONFIGURATION.md"
    run(env, "config", "docs", "--output", str(out))
    text = out.read_text()
    assert "`local`" in text and "tensor_parallel_size" in text and "api_key_env" in text


def test_committed_configuration_doc_is_current(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "CONFIGURATION.md"
    run(env, "config", "docs", "--output", str(out))
    committed = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"
    assert committed.read_text() == out.read_text(), "regenerate with `hybrid-assist config docs`"


def test_complete_json_runs_the_whole_pipeline(env: dict[str, str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    result = run(
        env,
        "complete",
        str(demo / "geometry.py"),
        "--line",
        "13",
        "--character",
        "33",
        "--json",
        "--workspace",
        str(demo),
    )
    data = json.loads(result.stdout)
    assert data["text"] == "return self.width * self.height"
    assert data["scope"]["level"] == "multi_file"
    assert any(f.endswith("units.py") for f in data["scope"]["files"])
    assert data["route"]["target"] == "local" and data["route"]["model"] == "instant"
    assert data["route"]["reasons"]
    assert set(data["usage"]) >= {"prompt_tokens", "completion_tokens", "cost_usd"}
    assert data["latency_ms"] >= 0


def test_complete_human_output_and_bad_task(env: dict[str, str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    result = run(env, "complete", str(demo / "geometry.py"), "--line", "13", "--character", "33", "--task", "explain")
    assert "return self.width" in result.stdout
    assert "route: via local" in result.stderr
    bad = run(
        env, "complete", str(demo / "geometry.py"), "--line", "0", "--character", "0", "--task", "poetry", check=False
    )
    assert bad.returncode == 2 and "unknown task 'poetry'" in bad.stderr


def test_doctor_explains_unusable_backends(env: dict[str, str]) -> None:
    result = run(env, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["local engine"]["ok"] is True
    openai = checks["provider openai (openai)"]
    assert openai["ok"] is False and "enabled = true" in openai["remedy"]


def test_doctor_without_a_model_says_what_to_do(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[local]\nbackend = "transformers"\nmodel = "{tmp_path / "no-such-model"}"\n')
    env = server_env(tmp_path, config)
    result = run(env, "doctor", "--json", check=False)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    local = checks["local engine"]
    assert local["ok"] is False
    assert "models pull" in local["remedy"] or "local model directory" in local["remedy"]
    assert result.returncode == 1  # no backend at all is usable: cloud keys are unset too


def test_complete_exits_3_with_the_primary_reason_first_when_nothing_served(tmp_path: Path) -> None:
    """No local model and no keys: the answer is the blocking reason of the primary target, exit 3."""
    config = tmp_path / "c.toml"
    config.write_text(f'[local]\nbackend = "transformers"\nmodel = "{tmp_path / "no-such-model"}"\ndownload = false\n')
    env = server_env(tmp_path, config)
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    args = ("complete", str(demo / "geometry.py"), "--line", "13", "--character", "33", "--workspace", str(demo))
    result = run(env, *args, "--json", "--wait", "60", check=False)
    assert result.returncode == 3, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "" and data["route"]["target"] == "none"
    assert data["empty_reason"].startswith("local engine unavailable"), data["empty_reason"]
    assert "no-such-model" in data["empty_reason"].split(";")[0]
    human = run(env, *args, "--wait", "60", check=False)
    assert human.returncode == 3 and "(no answer: local engine unavailable" in human.stdout


def test_a_custom_named_provider_is_listed_per_task_by_doctor(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[local]\nbackend = "instant"\n'
        '[providers.cloud]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "CLOUD_KEY"\nmodels = ["gpt-4o"]\n'
    )
    env = server_env(tmp_path, config, {"CLOUD_KEY": "sk-test-cloud"})
    result = run(env, "doctor", "--json", check=False)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    review = checks["route review"]  # local first while it fits the local window
    assert review["ok"] is True
    assert "single_file: local:instant" in review["detail"] and "repository: local:instant" in review["detail"]
    refactor = checks["route multi_file_refactor"]  # a cloud task whose first choice has no key
    assert refactor["ok"] is True
    assert "repository: cloud:gpt-4o" in refactor["detail"]
    assert "first choice anthropic:claude-sonnet-4-6 was skipped" in refactor["detail"]
    assert "repository: cloud:gpt-4o" in checks["route architecture"]["detail"]


def _run_sh_complete_arguments() -> list[str]:
    """The arguments of the ``complete`` command that ``scripts/run.sh`` runs, as written there."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"
    line = next(line for line in script.read_text().splitlines() if '"$ha" complete ' in line)
    words = shlex.split(line.split('"$ha" complete ', 1)[1])
    return [word for word in words if word != "$@"]


def test_the_demo_of_run_sh_completes_the_body_it_announces(env: dict[str, str]) -> None:
    """run.sh's own position lies inside ``Rectangle.area``, and the scope names it (no empty name)."""
    repo = Path(__file__).resolve().parents[2]

    def demo(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [*CLI, "complete", *_run_sh_complete_arguments(), *extra]
        return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)

    result = demo()
    assert result.returncode == 0, result.stderr
    assert "scope: multi_file (function area)" in result.stderr
    assert "(module )" not in result.stderr
    assert json.loads(demo("--json").stdout)["scope"]["unit"]["name"] == "area"


@pytest.mark.parametrize(
    ("line", "character", "message"),
    [
        ("999", "0", "--line 999 is past the end of the file (its last line is 14)"),
        ("13", "500", "--character 500 is past the end of line 13 (33 characters long)"),
        ("-1", "0", "cannot be negative"),
        ("0", "-3", "cannot be negative"),
    ],
)
def test_complete_refuses_a_position_outside_the_document(
    env: dict[str, str], line: str, character: str, message: str
) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    result = run(env, "complete", str(demo / "geometry.py"), "--line", line, "--character", character, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_complete_refuses_a_file_that_is_not_text(env: dict[str, str], tmp_path: Path) -> None:
    blob = tmp_path / "blob.py"
    blob.write_bytes(b"print(1)\n\x00\x01\x02 compiled")
    latin = tmp_path / "latin.py"
    latin.write_bytes("x = 'caf\u00e9'\n".encode("latin-1"))
    for path, message in ((blob, "is a binary file"), (latin, "is not UTF-8 text"), (Path("/bin/ls"), "binary")):
        result = run(env, "complete", str(path), "--line", "0", "--character", "0", check=False)
        assert result.returncode == 2 and message in result.stderr, (path, result.stderr)
        assert result.stdout == ""
