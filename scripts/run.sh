#!/usr/bin/env bash
# Set up hybrid-assist on the embedded default (in-process engine) and run one request through the
# whole pipeline: scope measurement, routing, the local engine. Then point your editor at
# `.venv/bin/hybrid-assist lsp` (see README, "Editors").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh cpu
ha=".venv/bin/hybrid-assist"
if ! "$ha" models pull; then
  cat >&2 <<'MSG'
run: the default model could not be fetched (no network to the model hub?). Either
  - run `.venv/bin/hybrid-assist models pull` on a machine with network and copy its Hugging Face
    cache (~/.cache/huggingface/hub) here, or
  - set `[local] model = "/path/to/a/model/directory"` in ~/.config/hybrid-assist/config.toml.
Cloud-routed features work without a local model once an API key is set (OPENAI_API_KEY, ...).
MSG
fi
"$ha" doctor || true
echo "run: completing examples/demo/geometry.py after line 14's \`self.width\` (the body of Rectangle.area)" >&2
exec "$ha" complete examples/demo/geometry.py --line 13 --character 33 --workspace examples/demo "$@"
