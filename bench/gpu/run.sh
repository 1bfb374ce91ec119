#!/usr/bin/env bash
# Builds libtessera with the CUDA backend, then on the GPU:
#   (a) checks every CUDA op and whole training steps against the CPU backend,
#   (b) times attention forward+backward against a naive reference (TFLOP/s),
#   (c) measures MosaicBERT-Base MLM pretraining throughput at seq 128 (tokens/s, samples/s, MFU).
# Results: bench/results/gpu-h200.txt (or $1/gpu-h200.txt). See bench/gpu/README.md.
# gpu_check (bench/gpu/gpu_check.cu) is built by cuda-ext/cmake/cuda.cmake with the library.
# Env: TSR_GPU_BUILD (build dir), TSR_BATCH (sequences per step in (c), default 256),
#      TSR_SANITIZE=1 (also run the op checks under compute-sanitizer memcheck; slow).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=${1:-$ROOT/bench/results}
BUILD=${TSR_GPU_BUILD:-/tmp/tsr-gpu-build}
BATCH=${TSR_BATCH:-256}
RES=$OUTDIR/gpu-h200.txt
mkdir -p "$OUTDIR"
: > "$RES"
log() { echo "$@" | tee -a "$RES"; }
JOBS=$(nproc 2>/dev/null || echo 4)

log "# Tessera CUDA backend: $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "# GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo 'nvidia-smi failed')"
log "# nvcc: $(nvcc --version 2>/dev/null | tail -1)"

# cuBLASLt is dlopen'ed by the library: find libcublasLt.so.13 (or .12) in the toolkit or a pip wheel.
if [ -z "${TSR_CUBLASLT:-}" ]; then
  TSR_CUBLASLT=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/local/cuda-* /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
      -name 'libcublasLt.so.13*' 2>/dev/null | head -1)
  [ -z "$TSR_CUBLASLT" ] && TSR_CUBLASLT=$(find /usr/local /usr/lib /opt -name 'libcublasLt.so.12*' 2>/dev/null | head -1)
fi
if [ -n "$TSR_CUBLASLT" ]; then
  export TSR_CUBLASLT
  export LD_LIBRARY_PATH="$(dirname "$TSR_CUBLASLT"):${LD_LIBRARY_PATH:-}"
  log "# cuBLASLt: $TSR_CUBLASLT"
else
  log "# cuBLASLt: not found, the wmma fallback GEMM will be used (slower)"
fi

# ---- build ----
t0=$(date +%s)
if ! cmake -S "$ROOT/cuda-ext" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > "$BUILD.cmake.log" 2>&1 \
   || ! cmake --build "$BUILD" -j "$JOBS" >> "$BUILD.cmake.log" 2>&1; then
  tail -40 "$BUILD.cmake.log"; log "BUILD FAILED (libtessera)"; exit 1
fi
grep -q "CUDA backend ON" "$BUILD.cmake.log" || { log "BUILD: CUDA backend is OFF (no nvcc?)"; exit 1; }
[ -x "$BUILD/gpu_check" ] || { log "BUILD FAILED (gpu_check missing)"; exit 1; }
log "# build: $(( $(date +%s) - t0 )) s"

rc=0
run() { # name timeout args...
  local name=$1 to=$2; shift 2
  log ""
  timeout "$to" "$BUILD/gpu_check" "$1" "$RES.part" "${@:2}" > "$BUILD.$name.out" 2>&1
  local r=$?
  cat "$BUILD.$name.out"
  cat "$RES.part" >> "$RES" 2>/dev/null; rm -f "$RES.part"
  [ $r -eq 124 ] && log "$name: TIMED OUT after $to s"
  [ $r -ne 0 ] && { log "$name: exit status $r"; rc=1; }
  return 0
}
run check 240 check
export TSR_GEMM=wmma; run gemm 60 gemm; unset TSR_GEMM   # the fallback GEMM (when cuBLASLt is missing)
run attn 120 attn
run train 240 train "$BATCH"
if [ "${TSR_SANITIZE:-0}" = 1 ] && command -v compute-sanitizer > /dev/null; then
  log ""; log "# compute-sanitizer memcheck of (a)"
  timeout 300 compute-sanitizer --tool memcheck --print-limit 20 "$BUILD/gpu_check" check 2>&1 | tail -40 | tee -a "$RES"
fi
log ""
log "# overall: $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
