#!/usr/bin/env bash
# The GPU run (bench/gpu/README.md): on a machine with an NVIDIA GPU,
#   (a)  gpu_check check  every CUDA op and whole training steps against the CPU backend,
#   (a') gpu_check gemm   the matmul checks with the wmma fallback GEMM (TSR_GEMM=wmma),
#   (b)  gpu_check attn   attention forward+backward vs a naive reference (TFLOP/s),
#   (c)  gpu_check train  MosaicBERT-Base MLM throughput at seq 128 (tokens/s, samples/s, MFU),
#   (d)  bench_dist train NCCL smoke: world size 1 through the data-parallel path (TSR_DIST_FORCE=1).
# Usage: bash bench/gpu/run.sh [OUTDIR]   (default bench/results)
# Writes, as the stages run (nothing is held back until a stage ends):
#   OUTDIR/gpu-h200.txt   the results: header, every check line, per-stage status, and ALWAYS a last
#                         line "# summary: ..." (written by an EXIT/TERM/INT/HUP trap)
#   OUTDIR/<stage>.log    each stage's stdout+stderr (build.log when it had to build)
# Artefacts: bench/gpu/prebuilt/ (bench/gpu/prebuild.sh, made off the device) when present, else
# built here (60 s on 16 cores; -DTSR_WERROR=OFF).
# Env: TSR_BATCH (sequences per step in (c), default 256); TSR_SANITIZE=1 (also (a) under
#   compute-sanitizer, only if time is left); TSR_GPU_REBUILD=1 (ignore prebuilt/);
#   TSR_GPU_CHECK=path (run this program instead of gpu_check: tests use a stand-in);
#   TSR_GPU_PREBUILT (dir, default bench/gpu/prebuilt); TSR_GPU_BUILD (build dir for the fallback);
#   TSR_CUBLASLT=path|none; time limits in seconds: TSR_GPU_TOTAL_S (whole run, default 450),
#   TSR_TO_BUILD/CHECK/GEMM/ATTN/TRAIN/SANITIZE (per stage), TSR_GPU_KILL_AFTER_S (SIGKILL after SIGTERM, 10).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=${1:-$ROOT/bench/results}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
RES=$OUTDIR/gpu-h200.txt
: > "$RES"
T_START=$(date +%s)
TOTAL=${TSR_GPU_TOTAL_S:-450}
KILL_AFTER=${TSR_GPU_KILL_AFTER_S:-10}
BATCH=${TSR_BATCH:-256}
PRE=${TSR_GPU_PREBUILT:-$ROOT/bench/gpu/prebuilt}
BUILD=${TSR_GPU_BUILD:-${TMPDIR:-/tmp}/tsr-gpu-build}

log() { printf '%s\n' "$*" | tee -a "$RES"; }
elapsed() { echo $(( $(date +%s) - T_START )); }

# ---- stage bookkeeping and the summary line that is always written ----
STAGES=()
declare -A STATUS=()
CUR_PID="" CUR_STAGE="" SUMMARY_DONE=0
summary() {
  [ "$SUMMARY_DONE" = 1 ] && return
  SUMMARY_DONE=1
  local why=$1
  if [ -n "$CUR_PID" ]; then # run.sh itself was signalled while a stage ran: stop it, record that
    kill -TERM "$CUR_PID" 2>/dev/null
    for _ in 1 2 3 4 5; do kill -0 "$CUR_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL "$CUR_PID" 2>/dev/null
    STATUS[$CUR_STAGE]="INTERRUPTED(run.sh got $why)"
    log "-- $CUR_STAGE: INTERRUPTED after $(( $(date +%s) - CUR_T0 )) s: run.sh got $why"
  fi
  local line="" overall=PASS n_pass=0 n_skip=0 s
  for s in "${STAGES[@]}"; do
    line+=" $s=${STATUS[$s]:-NOT_RUN}"
    case ${STATUS[$s]:-NOT_RUN} in
      PASS) [ "$s" != build ] && n_pass=$((n_pass + 1)) ;;
      SKIP*) n_skip=$((n_skip + 1)) ;;
      *) overall=FAIL ;;
    esac
  done
  [ ${#STAGES[@]} -eq 0 ] && overall=FAIL
  [ "$overall" = PASS ] && [ "$n_pass" -eq 0 ] && overall=SKIP
  [ "$why" != exit ] && overall=FAIL
  printf '\n# summary:%s overall=%s elapsed=%ss%s\n' "$line" "$overall" "$(elapsed)" \
    "$([ "$why" != exit ] && echo " (run.sh got $why)")" | tee -a "$RES"
  FINAL=$overall
}
trap 'summary exit' EXIT
trap 'summary SIGTERM; exit 143' TERM
trap 'summary SIGINT; exit 130' INT
trap 'summary SIGHUP; exit 129' HUP

# stage NAME TIMEOUT CMD...: runs CMD under timeout (capped by what is left of TSR_GPU_TOTAL_S),
# stdout+stderr streamed to OUTDIR/NAME.log; records PASS / FAIL(exit N) / TIMEOUT / CRASH(SIGxxx) / SKIP.
stage() {
  local name=$1 to=$2
  shift 2
  STAGES+=("$name")
  local left=$(( TOTAL - $(elapsed) - KILL_AFTER - 2 ))
  if [ "$left" -lt 5 ]; then
    STATUS[$name]="SKIP(no time left)"
    log ""
    log "== $name: skipped, no time left of TSR_GPU_TOTAL_S=$TOTAL"
    return 0
  fi
  [ "$to" -gt "$left" ] && to=$left
  local slog=$OUTDIR/$name.log
  log ""
  log "== $name (timeout ${to} s, log $name.log): $*"
  CUR_T0=$(date +%s)
  timeout -k "$KILL_AFTER" "$to" "$@" > "$slog" 2>&1 < /dev/null &
  CUR_PID=$! CUR_STAGE=$name
  wait "$CUR_PID"
  local r=$? dt=$(( $(date +%s) - CUR_T0 )) st
  CUR_PID=""
  case $r in
    0) st=PASS ;;
    77) st=SKIP ;;
    124) st="TIMEOUT(${to}s)" ;;
    *) if [ "$r" -eq 137 ] && [ "$dt" -ge "$to" ]; then st="TIMEOUT(${to}s,SIGKILL)"
       elif [ "$r" -gt 128 ]; then st="CRASH(SIG$(kill -l $((r - 128)) 2>/dev/null || echo $((r - 128))))"
       else st="FAIL(exit $r)"; fi ;;
  esac
  STATUS[$name]=$st
  if [ "$st" != PASS ] && [ "$st" != SKIP ]; then
    log "-- last lines of $name.log (stdout+stderr):"
    tail -n 25 "$slog" 2>/dev/null | sed 's/^/   | /' | tee -a "$RES"
  fi
  log "-- $name: $st in ${dt} s"
  return 0
}

log "# Tessera CUDA backend: $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), time budget ${TOTAL} s"
GPU_INFO=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
log "# GPU: ${GPU_INFO:-none (nvidia-smi missing or failed)}"

# ---- cuBLASLt (dlopen'ed by the library): known CUDA 13 locations first, then ldconfig, then a bounded scan ----
find_cublaslt() {
  local v d f
  for v in 13 12; do
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             /usr/local/cuda-$v*/targets/x86_64-linux/lib /usr/local/cuda-$v*/lib64 \
             /usr/local/lib/python3*/dist-packages/nvidia/cu$v/lib /usr/local/lib/python3*/dist-packages/nvidia/cublas/lib \
             /usr/local/lib/python3*/site-packages/nvidia/cu$v/lib /usr/local/lib/python3*/site-packages/nvidia/cublas/lib \
             /usr/lib/python3/dist-packages/nvidia/cu$v/lib /usr/lib/python3/dist-packages/nvidia/cublas/lib \
             "$HOME"/.local/lib/python3*/site-packages/nvidia/cu$v/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/cublas/lib \
             /opt/conda/lib /usr/lib/x86_64-linux-gnu; do
      for f in "$d"/libcublasLt.so.$v*; do [ -e "$f" ] && { echo "$f"; return 0; }; done
    done
    f=$(ldconfig -p 2>/dev/null | grep -o "/[^ ]*/libcublasLt\.so\.$v[^ ]*" | head -1)
    [ -n "$f" ] && { echo "$f"; return 0; }
  done
  for v in 13 12; do
    f=$(timeout 20 find /usr/local /opt /usr/lib "$HOME" -name "libcublasLt.so.$v*" 2>/dev/null | head -1)
    [ -n "$f" ] && { echo "$f (file-system scan)"; return 0; }
  done
  return 1
}
if [ "${TSR_CUBLASLT:-}" = none ]; then
  unset TSR_CUBLASLT
  log "# cuBLASLt: not searched (TSR_CUBLASLT=none)"
elif [ -n "${TSR_CUBLASLT:-}" ]; then
  log "# cuBLASLt: $TSR_CUBLASLT (TSR_CUBLASLT)"
elif found=$(find_cublaslt); then
  export TSR_CUBLASLT=${found% (file-system scan)}
  log "# cuBLASLt: $found"
else
  log "# cuBLASLt: not found; the library tries its own list of locations, else the wmma fallback GEMM runs (slower)"
fi
[ -n "${TSR_CUBLASLT:-}" ] && export LD_LIBRARY_PATH="$(dirname "$TSR_CUBLASLT")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# (gpu_check's first line names the engine the library loaded: "cublasLt <version> (<path>)")

# ---- artefacts: the stand-in (tests), prebuilt/ (carried), or a build here ----
src_hash() { # same as bench/gpu/prebuild.sh
  (cd "$ROOT" && find cuda-ext/src cuda-ext/include cuda-ext/cmake cuda-ext/CMakeLists.txt bench/gpu/gpu_check.cu \
      -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum 2>/dev/null | sha256sum | cut -c1-16)
}
# prebuilt_usable: 0 if prebuilt/gpu_check loads here (adding runtime libraries from prebuilt/sys
# that the machine lacks, through symlinks in $BUILD/sys), else logs why not.
prebuilt_usable() {
  local ldp="$PRE${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" miss lib
  miss=$(LD_LIBRARY_PATH=$ldp ldd "$PRE/gpu_check" 2>&1 | grep 'not found' || true)
  if [ -n "$miss" ]; then
    mkdir -p "$BUILD/sys"
    for lib in $(printf '%s\n' "$miss" | awk '$2 == "=>" {print $1}'); do
      [ -e "$PRE/sys/$lib" ] && ln -sf "$PRE/sys/$lib" "$BUILD/sys/$lib"
    done
    ldp="$ldp:$BUILD/sys"
    miss=$(LD_LIBRARY_PATH=$ldp ldd "$PRE/gpu_check" 2>&1 | grep 'not found' || true)
    [ -n "$miss" ] && { log "# prebuilt/ does not load here: $(echo $miss)"; return 1; }
    log "# prebuilt/: using runtime libraries from prebuilt/sys: $(ls "$BUILD/sys" | tr '\n' ' ')"
  fi
  export LD_LIBRARY_PATH=$ldp
  return 0
}
if [ -n "${TSR_GPU_CHECK:-}" ]; then
  GPU_CHECK=$TSR_GPU_CHECK
  log "# gpu_check: $GPU_CHECK (TSR_GPU_CHECK)"
elif [ "${TSR_GPU_REBUILD:-0}" != 1 ] && [ -x "$PRE/gpu_check" ] && [ -f "$PRE/libtessera.so" ] && prebuilt_usable; then
  GPU_CHECK=$PRE/gpu_check
  log "# artefacts: prebuilt ($PRE): $(tr '\n' ' ' < "$PRE/BUILD_INFO" 2>/dev/null)"
  want=$(grep -o 'sources=[0-9a-f]*' "$PRE/BUILD_INFO" 2>/dev/null | cut -d= -f2)
  have=$(src_hash)
  if [ -n "$want" ] && [ "$want" != "$have" ]; then
    log "# WARNING: prebuilt/ was built from other sources (sources=$want, this tree $have); TSR_GPU_REBUILD=1 builds here"
  fi
else
  [ -d "$PRE" ] || log "# artefacts: no $PRE (was carry [\"bench/gpu/prebuilt\"] given?): building here"
  stage build "${TSR_TO_BUILD:-240}" env TSR_WERROR=OFF TSR_PREBUILD_DIR="$BUILD" bash "$ROOT/bench/gpu/prebuild.sh" "$BUILD/out"
  if [ "${STATUS[build]}" != PASS ]; then
    log "BUILD FAILED: see build.log"
    exit 1
  fi
  GPU_CHECK=$BUILD/out/gpu_check
  export LD_LIBRARY_PATH="$BUILD/out${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "# artefacts: built on the device: $(tr '\n' ' ' < "$BUILD/out/BUILD_INFO" 2>/dev/null)"
fi

# ---- the stages: gpu_check appends its lines to $RES itself (line-buffered) ----
# expected on an H200: check ~60 s, gemm ~15 s, attn ~30 s, train ~40 s (never measured: first run)
stage check "${TSR_TO_CHECK:-150}" "$GPU_CHECK" check "$RES"
stage gemm "${TSR_TO_GEMM:-45}" env TSR_GEMM=wmma "$GPU_CHECK" gemm "$RES"
stage attn "${TSR_TO_ATTN:-90}" "$GPU_CHECK" attn "$RES"
stage train "${TSR_TO_TRAIN:-120}" "$GPU_CHECK" train "$RES" "$BATCH"
# (d) NCCL smoke: world size 1 through the data-parallel path (rendezvous, Gloo for host values, an NCCL
# communicator, the bucketed gradient all-reduce on the model's stream) on MosaicBERT-Base, 64 sequences in
# 2 microbatches. Needs bench_dist and libtessera_gloo.so (+ libgloo.so.0 in prebuilt/sys) beside gpu_check.
DIST=$(dirname "$GPU_CHECK")/bench_dist
if [ -z "${TSR_GPU_CHECK:-}" ] && [ -x "$DIST" ] && [ -f "$(dirname "$GPU_CHECK")/libtessera_gloo.so" ] \
   && ! LD_LIBRARY_PATH="$BUILD/sys:$PRE/sys${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$(dirname "$GPU_CHECK")/libtessera_gloo.so" | grep -q 'not found'; then
  stage dist "${TSR_TO_DIST:-90}" env LD_LIBRARY_PATH="$BUILD/sys:$PRE/sys${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    WORLD_SIZE=1 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 TSR_DIST_FORCE=1 TSR_BENCH_BACKEND=cuda \
    "$DIST" train 12 768 12 3072 128 64 2 5 0
else
  log "# NCCL smoke (dist) not run: bench_dist / libtessera_gloo.so (Gloo) not beside $GPU_CHECK"
fi
if [ "${TSR_SANITIZE:-0}" = 1 ]; then
  if command -v compute-sanitizer > /dev/null; then
    stage sanitize "${TSR_TO_SANITIZE:-300}" compute-sanitizer --tool memcheck --print-limit 20 "$GPU_CHECK" check
  else
    log "# compute-sanitizer not found: sanitize stage not run"
  fi
fi
trap - EXIT
summary exit
[ "$FINAL" = PASS ]
