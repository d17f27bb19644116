#!/usr/bin/env bash
# Run on a CUDA machine from the repo root: GPU tests + benchmarks, logs under $OUT (default ./out/gpu).
# Usage: tools/gpu_check.sh [tests|bench|all] [extra pytest args...]
set -uo pipefail
what="${1:-all}"; shift || true
OUT="${OUT:-out/gpu}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Wheels carried to a machine without internet (e.g. diffusers for the prior): install if present.
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
python3 - <<'PY' | tee "$OUT/device.txt"
import torch, platform
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
status=0
if [ "$what" = tests ] || [ "$what" = all ]; then
  python3 -m pytest -q -m gpu tests "$@" 2>&1 | tee "$OUT/gpu_tests.log"; status=${PIPESTATUS[0]}
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  for b in raster generator frames; do
    python3 -m next3d bench "$b" --device cuda 2>&1 | tee "$OUT/bench_$b.txt"
  done
fi
exit $status
