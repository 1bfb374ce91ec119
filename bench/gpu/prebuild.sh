#!/usr/bin/env bash
# Builds the GPU run's artefacts OFF the device (no GPU needed, only nvcc): libtessera.so with the
# CUDA backend and gpu_check, stripped, into bench/gpu/prebuilt/ (git-ignored; the device tool
# carries it: carry ["bench/gpu/prebuilt"]). bench/gpu/run.sh uses them when present, and calls this
# script itself (TSR_WERROR=OFF) only when they are missing or do not load.
# Usage: bash bench/gpu/prebuild.sh [DEST]       (default bench/gpu/prebuilt)
# Env: TSR_PREBUILD_DIR (CMake build dir, default target/gpu-prebuild), TSR_WERROR (ON|OFF, default
#      ON), TSR_JOBS (default nproc), NVCC / CMAKE (paths, else found on PATH and the usual places).
# Writes DEST/{libtessera.so, gpu_check, BUILD_INFO} and DEST/sys/ (the C/C++ runtime libraries they
# link, used by run.sh only if the device lacks them). Fails if the total is over 48 MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${1:-$ROOT/bench/gpu/prebuilt}
B=${TSR_PREBUILD_DIR:-$ROOT/target/gpu-prebuild}
WERROR=${TSR_WERROR:-ON}
JOBS=${TSR_JOBS:-$(nproc 2>/dev/null || echo 4)}

first_exe() { local c; for c in "$@"; do [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }; done; return 1; }
newest() { ls -d "$@" 2>/dev/null | sort -V | tail -1; }
CMAKE=$(first_exe "${CMAKE:-}" "$(command -v cmake || true)" /usr/bin/cmake /usr/local/bin/cmake \
        "$HOME/.local/bin/cmake" /opt/conda/bin/cmake) || { echo "prebuild: cmake not found" >&2; exit 2; }
NVCC=$(first_exe "${NVCC:-}" "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc \
       "$(newest /usr/local/cuda-13*/bin/nvcc)" "$(newest /usr/local/cuda-1[2-9]*/bin/nvcc)" /usr/local/bin/nvcc \
       /opt/conda/bin/nvcc) || { echo "prebuild: nvcc not found" >&2; exit 2; }
echo "prebuild: cmake $CMAKE ($("$CMAKE" --version | head -1)), nvcc $NVCC ($("$NVCC" --version | tail -1)), -Werror $WERROR"

"$CMAKE" -S "$ROOT/cuda-ext" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC" \
  -DTSR_ORTOPS=OFF -DTSR_WERROR="$WERROR" -DTSR_OUTPUT_DIR="$B/lib" | tee "$B.configure.log"
grep -q "CUDA backend ON" "$B.configure.log" || { echo "prebuild: the CUDA backend is OFF" >&2; exit 2; }
"$CMAKE" --build "$B" -j "$JOBS" --target tessera gpu_check bench_dist
# the Gloo shim for run.sh's NCCL smoke (host-side collectives), when Gloo was found here
GLOO=0
grep -q "tessera_gloo: ON" "$B.configure.log" && "$CMAKE" --build "$B" -j "$JOBS" --target tessera_gloo && GLOO=1

mkdir -p "$DEST/sys"
rm -f "$DEST"/libtessera.so "$DEST"/gpu_check "$DEST"/sys/*
rm -f "$DEST"/bench_dist "$DEST"/libtessera_gloo.so
cp "$B/lib/libtessera.so" "$B/gpu_check" "$B/bench_dist" "$DEST/"
if [ "$GLOO" = 1 ]; then
  cp "$B/lib/libtessera_gloo.so" "$DEST/"
  # Gloo and what it links (Debian's libgloo0 is not on the GPU machine)
  for lib in $(ldd "$DEST/libtessera_gloo.so" | awk '$3 ~ /^\// && $1 ~ /^lib(gloo|hiredis|ibverbs|nl-3|nl-route-3)/ {print $3}'); do
    cp -L "$lib" "$DEST/sys/"
  done
fi
strip --strip-unneeded "$DEST/libtessera.so" "$DEST/gpu_check"
# the runtime libraries they need beyond glibc (a bare CUDA image may lack libgomp)
for lib in libgomp.so.1 libstdc++.so.6 libgcc_s.so.1; do
  p=$(ldd "$DEST/gpu_check" "$DEST/libtessera.so" 2>/dev/null | awk -v l="$lib" '$1 == l && $3 ~ /^\// {print $3; exit}')
  [ -n "$p" ] && cp -L "$p" "$DEST/sys/$lib"
done
# same hash as bench/gpu/run.sh: tells it whether prebuilt/ matches the tree it runs in
SRC=$(cd "$ROOT" && find cuda-ext/src cuda-ext/include cuda-ext/cmake cuda-ext/CMakeLists.txt bench/gpu/gpu_check.cu \
      -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum 2>/dev/null | sha256sum | cut -c1-16)
GLIBC=$(objdump -T "$DEST/libtessera.so" "$DEST/gpu_check" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
{
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- cuda-ext bench/gpu 2>/dev/null || echo '+dirty')"
  echo "sources=$SRC"
  echo "built=$(date -u +%FT%TZ)"
  echo "nvcc=$("$NVCC" --version | tail -1 | tr -d ' ')"
  echo "needs=$GLIBC"
  echo "werror=$WERROR"
} > "$DEST/BUILD_INFO"
SIZE=$(du -sk "$DEST" | cut -f1)
echo "prebuild: $DEST ($SIZE KiB):"; ls -l "$DEST" "$DEST/sys"; cat "$DEST/BUILD_INFO"
[ "$SIZE" -le $((48 * 1024)) ] || { echo "prebuild: $SIZE KiB is over 48 MiB (the device tool carries 64 MiB in all)" >&2; exit 3; }
