#!/usr/bin/env bash
# One prepared run on a GPU machine without vLLM (e.g. the lent H200): the GPU-marked tests of the
# transformers engine, then the 100-developer completion load against a 7B architecture with random
# weights through the transformers engine. Reports go to ${OUT:-/tmp/gpu-check}.
# Usage: bash bench/gpu_check.sh [DURATION_S]
# A bare GPU machine without network (the lent one has torch + transformers, no pydantic): fetch the
# missing wheels for its Python first, here, into the git-ignored .whl/ and carry it there:
#   pip download -d .whl --only-binary=:all: --python-version 3.12 pydantic pytest-asyncio
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu-check}"; mkdir -p "$out"
duration="${1:-60}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
py="${PYTHON:-python3}"
if [ -d .whl ]; then "$py" -m pip install -q --no-index --find-links .whl pydantic pytest-asyncio; fi
nvidia-smi -L || true
"$py" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name(0))"
# --confcutdir: only the engine tests' own conftest (the project-wide one starts wire servers and PostgreSQL).
timeout 240 "$py" -m pytest -q -p no:cacheprovider --confcutdir=tests/inference -m gpu -rs \
  tests/inference/test_transformers_backend.py 2>&1 | tee "$out/gpu_tests.log"
for arch in qwen2.5-coder-7b; do
  timeout 330 "$py" bench/bench_gpu_vllm_load.py --backend transformers --arch "$arch" --duration "$duration" \
    --json "$out/load_${arch}.json" 2>&1 | tee "$out/load_${arch}.log"
done
