#!/usr/bin/env bash
# Create (or reuse) bench/.venv-clients with the outside agent clients the gateway's tool-calling tests drive
# (tests/gateway/test_tools_clients.py): langchain-openai, pinned. A venv of its own: its pins (langchain-core,
# openai) must not touch the project's .venv nor LiteLLM's (bench/.venv-litellm, scripts/litellm-venv.sh).
# Idempotent: does nothing when the pinned version is already there. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${HYBRID_ASSIST_LANGCHAIN_OPENAI_VERSION:-1.7.4}"
venv="${HYBRID_ASSIST_CLIENTS_VENV:-bench/.venv-clients}"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("langchain-openai"))' 2>/dev/null)" = "$version" ]; then
  echo "$venv"
  exit 0
fi
echo "clients-venv: installing langchain-openai==$version into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "langchain-openai==$version" >&2
echo "$venv"
