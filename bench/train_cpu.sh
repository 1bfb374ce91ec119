#!/usr/bin/env bash
# Training-step throughput on CPU, side by side in one run: Tessera's native CPU step (cuda-ext, unpadded
# batch) in fp32 and in bf16 mixed precision (AVX512-BF16 matrix products), against PyTorch eager
# (Debian's python3-torch, the same model and batch padded to [batch, seq]) in fp32 and with
# torch.autocast("cpu", dtype=torch.bfloat16). Interleaved repetitions; medians.
#
# Configurations (MosaicBERT, MLM head on the masked tokens, 30% masked, lengths uniform in [seq/4, seq]):
#   demo   2 layers x 128, 4 heads, GeGLU 512, vocab 8192, 32 sequences <= 128 (the IMDB demo model)
#   4x256  4 layers x 256, 4 heads, GeGLU 1024, vocab 30528, 16 sequences <= 128
#   base1  1 MosaicBERT-Base layer: 768, 12 heads, GeGLU 3072, vocab 30528, 16 sequences <= 128
#
# Reported per configuration and implementation: tokens/s (real, unpadded tokens), CPU-seconds per step
# (all threads), and MFU = model FLOPs / step time / peak, against the peaks bench_peak measures now
# (fp32 FMA for fp32 rows, bf16 vdpbf16ps for bf16 rows, at the same thread count). Model FLOPs are the
# same number for every implementation: 3 x the forward's matrix-product FLOPs on the unpadded batch
# (QKV, attention QK^T and PV within each sequence, attention output, GeGLU in/out, MLM transform and
# decoder on the masked tokens; the last layer's queries, attention output and FFN on the masked tokens
# only, as MosaicBERT's reference computes it). Padding, recomputation and elementwise ops are not counted.
#
# Time it alone:   flock -x /tmp/tessera-cpu.lock bench/train_cpu.sh [threads=2] [steps=8] [reps=3] [configs]
# Raw JSON lines go to bench/results/train_cpu/<timestamp>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
STEPS=${2:-8}
REPS=${3:-3}
CONFIGS=${4:-"demo 4x256 base1"}
BUILD=target/cuda-ext-build
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S cuda-ext -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel --target bench_train bench_peak >/dev/null  # incremental: the sources as they are
# both sides use libgomp: sleep rather than spin at barriers (what Tessera's Java loader sets too);
# on a machine shared with other work spinning is 2-5x slower. Override by exporting OMP_WAIT_POLICY.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# PyTorch's fp32 matmuls run on Debian's OpenBLAS (libopenblas0-pthread must provide libblas.so.3: with
# Debian's reference libblas3, which python3-torch alone pulls in, PyTorch fp32 runs at ~4 GFLOP/s).
# On this AMD EPYC, 2 threads, 1290x256x1024: Haswell kernels 215 GFLOP/s, SkylakeX 175 - give the peer
# its best. (bf16 autocast matmuls go through oneDNN, not OpenBLAS.)
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if ! readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then
  echo "libblas.so.3 is not OpenBLAS (apt-get install libopenblas0-pthread): PyTorch fp32 would be measured on the reference BLAS" >&2
  exit 1
fi

declare -A CFG=(
  [demo]="2 128 4 512 128 32"
  [4x256]="4 256 4 1024 128 16"
  [base1]="1 768 12 3072 128 16"
)
declare -A VOCAB=([demo]=8192 [4x256]=30528 [base1]=30528)

mkdir -p bench/results/train_cpu
OUT=bench/results/train_cpu/$(date -u +%Y%m%dT%H%M%SZ).jsonl
# the peaks are measured before every repetition and the highest of each is used: on a machine shared
# with other work a single measurement can catch the second core busy (MFU then comes out too high)
: > "$OUT"
for rep in $(seq 1 "$REPS"); do
  peak=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench_peak" "$THREADS")
  echo "{\"peak\": $peak}" >> "$OUT"
  echo "peak GFLOP/s: $peak" >&2
  for name in $CONFIGS; do
    c=${CFG[$name]}
    v=${VOCAB[$name]}
    for impl in tessera-fp32 tessera-bf16 torch-fp32 torch-bf16; do
      prec=0
      case $impl in *bf16) prec=1 ;; esac
      if [ "${impl%%-*}" = tessera ]; then
        line=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench_train" $c "$STEPS" "$THREADS" 0 $prec "$v")
      else
        line=$(OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/train_cpu_torch.py $c "$STEPS" "$THREADS" 0 $prec "$v")
      fi
      echo "{\"rep\": $rep, \"config\": \"$name\", \"impl\": \"$impl\", \"args\": \"$c $STEPS $THREADS 0 $prec $v\", \"result\": $line}" >> "$OUT"
      echo "rep $rep $name $impl: $line" >&2
    done
  done
done

/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
peaks = [r["peak"] for r in rows if "peak" in r]
runs = [r for r in rows if "result" in r]
threads = str(runs[0]["result"]["threads"])
peak = {k: {threads: max(p[k].get(threads, 0) for p in peaks)} for k in ("fp32_fma_gflops", "bf16_dot_gflops")}
seen = {k: sorted(p[k].get(threads, 0) for p in peaks) for k in peak}


def lcg_batch(seq, B, V):
    """lengths and masked-token count of the benchmark batch (the LCG of bench_train.c)"""
    st = 42
    def lcg():
        nonlocal st
        st = (st * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return st >> 33
    lens = [seq // 4 + lcg() % (seq - seq // 4 + 1) for _ in range(B)]
    masked = []
    for s, L in enumerate(lens):
        for _ in range(L):
            lcg()
            m = lcg() % 1000 < 300
            if m:
                lcg()
            masked.append((s, m))
    return lens, masked


def model_flops(args):
    layers, H, NH, I, seq, B, _steps, _thr, _var, _prec, V = map(int, args.split())
    lens, masked = lcg_batch(seq, B, V)
    T, n = sum(lens), sum(m for _, m in masked)
    per_seq_masked = [0] * B
    for s, m in masked:
        per_seq_masked[s] += m
    full = 2 * T * (3 * H * H + H * H + 2 * I * H + I * H) + 2 * 2 * sum(L * L for L in lens) * H
    last = 2 * T * 3 * H * H + 2 * 2 * sum(q * L for q, L in zip(per_seq_masked, lens)) * H \
        + 2 * n * (H * H + 2 * I * H + I * H)
    head = 2 * n * (H * H + H * V)
    return 3 * ((layers - 1) * full + last + head), T


groups = {}
for r in runs:
    groups.setdefault((r["config"], r["impl"]), []).append(r)
print(f"\nmedians of {len(runs) // len(groups)} interleaved repetitions, {threads} threads; highest peaks measured: "
      f"fp32 {peak['fp32_fma_gflops'][threads]} GFLOP/s, bf16 {peak['bf16_dot_gflops'][threads] or 'n/a'} GFLOP/s "
      f"(all measurements: fp32 {seen['fp32_fma_gflops']}, bf16 {seen['bf16_dot_gflops']})")
print(f"{'config':7} {'implementation':24} {'tokens/s':>9} {'CPU-s/step':>10} {'GFLOP/s':>8} {'MFU':>6}")
med = {}
for (cfg, impl), rs in groups.items():
    flops, T = model_flops(rs[0]["args"])
    step = statistics.median(r["result"]["step_s"] for r in rs)
    cpu = statistics.median(r["result"]["cpu_s"] for r in rs)
    tps = T / step
    pk = peak["bf16_dot_gflops"][threads] if impl.endswith("bf16") else peak["fp32_fma_gflops"][threads]
    gf = flops / step / 1e9
    med[(cfg, impl)] = tps
    label = impl + (" (autocast)" if impl == "torch-bf16" else "")
    print(f"{cfg:7} {label:24} {tps:9.0f} {cpu:10.3f} {gf:8.1f} {100 * gf / pk if pk else float('nan'):5.1f}%")
print()
for cfg in dict.fromkeys(c for c, _ in groups):
    g = lambda i: med.get((cfg, i))
    if None in (g("tessera-fp32"), g("tessera-bf16"), g("torch-fp32"), g("torch-bf16")):
        continue
    print(f"{cfg}: tessera bf16 / torch bf16 autocast {g('tessera-bf16') / g('torch-bf16'):.2f}x, "
          f"tessera bf16 / tessera fp32 {g('tessera-bf16') / g('tessera-fp32'):.2f}x, "
          f"tessera fp32 / torch fp32 {g('tessera-fp32') / g('torch-fp32'):.2f}x")
PY
echo "raw: $OUT" >&2
