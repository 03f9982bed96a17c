#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite. Exits non-zero on any failure,
# including "no tests ran".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh cpu,dev
bash scripts/test-services.sh
venv="${HYBRID_ASSIST_VENV:-.venv}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
