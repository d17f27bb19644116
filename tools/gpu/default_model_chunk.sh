#!/usr/bin/env bash
# One chunk (<= 10 minutes) of the shipped default generator's training, on a CUDA machine, from the repo root.
# The first chunk fine-tunes assets/models/next3d_default.safetensors (fresh D), or with INIT=none starts from
# scratch, or with INIT_D=discriminator.safetensors as well continues a run from another machine (its exported
# EMA generator and D); later chunks resume the run.
# Usage: [RUN=name] [INIT=generator|none] [INIT_D=file] tools/gpu/default_model_chunk.sh MINUTES [extra train
#        options, first chunk]
# Writes the exported fp16 model, its D (fp32, for INIT_D), the log and the newest grid to $OUT.
set -euo pipefail
minutes="${1:-8}"; shift || true
OUT="${OUT:-out/chunk}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
data=out/synth128 runs=out/runs run="${RUN:-default-small-ft}"
init="${INIT:-assets/models/next3d_default.safetensors}"
init_option=(--init-generator "$init"); [ "$init" = none ] && init_option=()
[ -n "${INIT_D:-}" ] && init_option+=(--init-discriminator "$INIT_D")
if [ ! -f "$data/dataset.json" ]; then  # the model card's dataset (seed 0)
  python3 -m next3d dataset synth --out "$data" --n 20000 --res 128 --device cuda --batch 64 --seed 0
fi
if compgen -G "$runs/$run/snapshot-*.safetensors" >/dev/null; then
  python3 -m next3d train --out "$runs" --run-name "$run" --resume auto --kimg 100000 --max-minutes "$minutes" \
      --workers 8 --device cuda --no-progress
else
  python3 -m next3d train --data "$data" --out "$runs" --run-name "$run" --preset small \
      "${init_option[@]}" --blur-fade-kimg 20 --batch 32 --kimg 100000 \
      --snap-kimg 1000 --tick-kimg 4 --mirror --workers 8 --keep-snapshots 1 --max-minutes "$minutes" \
      --device cuda --no-progress "$@"
fi
python3 -m next3d export "$runs/$run" "$OUT/next3d_default.safetensors" --fp16
python3 -m next3d export "$runs/$run" "$OUT/discriminator.safetensors" --discriminator --fp32
cp "$runs/$run/log.jsonl" "$OUT/"
grid="$(ls -t "$runs/$run"/*.png | head -1)"; cp "$grid" "$OUT/grid.png"
