#!/usr/bin/env bash
# Create (or reuse) bench/.venv-litellm with LiteLLM's proxy at the pinned version: the proxy the usage tests
# (tests/routing/test_usage_through_litellm.py) and the gateway benchmarks (bench/bench_gateway.py --compare)
# put in front of the instant upstream. A venv of its own: LiteLLM's pins must not touch the project's .venv.
# Idempotent: does nothing when the pinned version is already there. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${HYBRID_ASSIST_LITELLM_VERSION:-1.108.7}"
venv="${HYBRID_ASSIST_LITELLM_VENV:-bench/.venv-litellm}"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/litellm" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" = "$version" ]; then
  echo "$venv"
  exit 0
fi
echo "litellm-venv: installing litellm[proxy]==$version into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "litellm[proxy]==$version" >&2
echo "$venv"
