#!/usr/bin/env bash
# Training-step throughput on CPU: Tessera's native CPU backend (cuda-ext, unpadded batch) against
# PyTorch eager (Debian python3-torch, the same batch padded to [batch, seq]) on the same small
# MosaicBERT: 4 layers, hidden 256, 4 heads, intermediate 1024, seq 128, MLM head, 16 sequences of
# lengths 32..128, same number of threads. tokens/s counts real (non-padding) tokens on both sides.
# Usage: bench/train_cpu.sh [threads (default: nproc)] [steps (default 10)] [variant 0=MosaicBERT 1=BERT]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-$(nproc)}
STEPS=${2:-10}
VARIANT=${3:-0}
BUILD=target/cuda-ext-build
if [ ! -x "$BUILD/bench_train" ]; then
  cmake -S cuda-ext -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --parallel >/dev/null
fi
CFG="4 256 4 1024 128 16 $STEPS $THREADS $VARIANT"
# both sides use libgomp: sleep rather than spin at barriers (what Tessera's Java loader sets too);
# on a machine shared with other work spinning is 2-5x slower. Override by exporting OMP_WAIT_POLICY.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# PyTorch's matmuls run on Debian's OpenBLAS: its CPU auto-detection picks a slow generic kernel on
# this Xeon (~10 GFLOP/s/core), Haswell kernels reach ~34, SkylakeX (AVX-512) ~55 and are correct here
# (checked against float64) - give the peer its best.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
echo "config: layers hidden heads intermediate seq batch steps threads variant = $CFG" >&2
ours=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench_train" $CFG)
peer=$(OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/train_cpu_torch.py $CFG)
echo "$ours"
echo "$peer"
/usr/bin/python3 - "$ours" "$peer" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"tessera-cpu {a['tokens_per_s']:.0f} tokens/s vs pytorch-eager {b['tokens_per_s']:.0f} tokens/s "
      f"({a['threads']} threads, {a['tokens']} real tokens, {a['padded_tokens']} padded): ratio {a['tokens_per_s'] / b['tokens_per_s']:.2f}x")
# CPU seconds per step are robust when other processes share the cores (wall time is not)
print(f"CPU seconds per step: tessera-cpu {a['cpu_s']:.3f} vs pytorch-eager {b['cpu_s']:.3f}: ratio {b['cpu_s'] / a['cpu_s']:.2f}x")
PY
