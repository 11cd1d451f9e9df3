#!/usr/bin/env bash
# Creates the Python venv the side-by-side bench (python-reference.bench.ts) runs the reference
# stack in: transformers, onnxruntime (and its quantization tools), onnx, pillow, numpy.
# Default place: ~/.cache/semclip/pyref (outside the clone); pass another folder as $1 and point
# SEMCLIP_PYREF_PYTHON at its bin/python, or use ./.venv here (git-ignored; the bench finds it).
# Extra pip arguments (an index, a mirror) come from PIP_ARGS, e.g. on a machine with a local mirror:
#   PIP_ARGS="--index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels"
set -euo pipefail
venv="${1:-$HOME/.cache/semclip/pyref}"
python3 -m venv "$venv"
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet ${PIP_ARGS:-} transformers onnxruntime onnx pillow numpy tokenizers
"$venv/bin/python" -c "import transformers, onnxruntime, onnx, PIL; print('pyref venv ready:', '$venv', 'transformers', transformers.__version__, 'onnxruntime', onnxruntime.__version__)"
