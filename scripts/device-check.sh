#!/usr/bin/env bash
# One-command GPU check: runs the CLIP scorer, the OCR scorer (PP-OCRv4) and a tiny local VLM on
# the CPU and on each GPU execution provider onnxruntime-node offers here (cuda, webgpu), and
# prints per provider the times and the largest output difference from the CPU. Exit status 1
# when a provider that claims to be available fails or disagrees beyond the tolerance.
#
#   scripts/device-check.sh            # builds what is missing, then checks
#   scripts/device-check.sh --build    # rebuilds first
#   scripts/device-check.sh --help     # the check's own options (--tolerance, --only, --require-gpu...)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build=0
args=()
for a in "$@"; do
  if [ "$a" = "--build" ]; then build=1; else args+=("$a"); fi
done

need=(packages/runtime/dist/index.js packages/tiling/dist/index.js packages/scorers/dist/clip.js packages/scorers/dist/ocr.js packages/vlm-runner/dist/local.js)
for f in "${need[@]}"; do [ -f "$f" ] || build=1; done
if [ "$build" = 1 ]; then
  echo "device-check: building the packages (pnpm exec turbo run build --filter=@semclip/scorers... --filter=@semclip/vlm-runner...)" >&2
  pnpm exec turbo run build --filter=@semclip/scorers... --filter=@semclip/vlm-runner... --output-logs=errors-only >&2
fi

# The check imports the test kit's TypeScript (tiny models, images): bundle it with esbuild into
# the test kit's node_modules, where its native dependencies (sharp, onnxruntime-node) resolve.
out="tests/kit/node_modules/.cache/semclip-device-check.mjs"
mkdir -p "$(dirname "$out")"
pnpm exec esbuild scripts/device-check.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:sharp --external:onnxruntime-node --external:onnx-proto --external:vitest --external:'@semclip/*' \
  --outfile="$out"

SEMCLIP_REPO_ROOT="$root" exec node "$out" ${args[@]+"${args[@]}"}
