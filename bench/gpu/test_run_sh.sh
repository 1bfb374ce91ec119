#!/usr/bin/env bash
# Tests bench/gpu/run.sh without a GPU (ctest "gpu_run_sh"): runs it against bench/gpu/fake_gpu_check.sh
# (TSR_GPU_CHECK) whose stages succeed, hang, hang ignoring SIGTERM, crash (SIGSEGV) or fail, with
# short timeouts, and run.sh itself killed by SIGTERM mid-stage; asserts that the results file keeps
# the streamed partial output of every stage, the per-stage statuses, and the final summary line.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=$HERE/run.sh
FAKE=$HERE/fake_gpu_check.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tsr-run-sh-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0 checks=0
expect() { # description, command...
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "  ok   $what"; else echo "  FAIL $what"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$2" "$1"; }
last_is_summary() { tail -n 1 "$1" | grep -q '^# summary: '; }
# common environment: stand-in, no library search, short limits
run_case() { # name, env assignments...
  local name=$1; shift
  mkdir -p "$TMP/$name"
  env TSR_GPU_CHECK="$FAKE" TSR_CUBLASLT=none TSR_GPU_KILL_AFTER_S=2 TSR_TO_CHECK=4 TSR_TO_GEMM=4 TSR_TO_ATTN=4 \
      TSR_TO_TRAIN=4 "$@" bash "$RUN" "$TMP/$name/out" > "$TMP/$name/stdout" 2>&1
  echo $? > "$TMP/$name/rc"
}

echo "== success"
run_case ok
R=$TMP/ok/out/gpu-h200.txt
expect "exit status 0" [ "$(cat "$TMP/ok/rc")" = 0 ]
expect "every stage's lines are in the results" has "$R" "fake train: 1 checks, 0 failed"
expect "stage stderr is in the stage log" has "$TMP/ok/out/check.log" "fake check: a line on stderr"
expect "summary line last" last_is_summary "$R"
expect "summary says PASS" has "$R" "# summary: check=PASS gemm=PASS attn=PASS train=PASS overall=PASS"
expect "the wmma stage ran with TSR_GEMM=wmma" has "$R" "== gemm (timeout 4 s, log gemm.log): env TSR_GEMM=wmma"

echo "== a stage hangs, one ignores SIGTERM, one crashes, one fails"
t0=$(date +%s)
run_case mixed TSR_FAKE_check=hang TSR_FAKE_gemm=hang_hard TSR_FAKE_attn=crash TSR_FAKE_train=fail
dt=$(( $(date +%s) - t0 ))
R=$TMP/mixed/out/gpu-h200.txt
expect "exit status 1" [ "$(cat "$TMP/mixed/rc")" = 1 ]
expect "hung stage's partial output survived" has "$R" "fake check: partial line before the hang"
expect "hung stage: TIMEOUT" has "$R" "-- check: TIMEOUT(4s)"
expect "SIGTERM-proof stage's partial output survived" has "$R" "fake gemm: partial line before the hard hang"
expect "SIGTERM-proof stage: killed, TIMEOUT(…SIGKILL)" has "$R" "-- gemm: TIMEOUT(4s,SIGKILL)"
expect "crashed stage's partial output survived" has "$R" "fake attn: partial line before the crash"
expect "crashed stage: CRASH(SIGSEGV)" has "$R" "-- attn: CRASH(SIGSEGV)"
expect "failed stage: FAIL(exit 1)" has "$R" "-- train: FAIL(exit 1)"
expect "failed stage's stderr quoted in the results" has "$R" "   | fake train: a line on stderr"
expect "summary line last" last_is_summary "$R"
expect "summary names every outcome" has "$R" \
  "# summary: check=TIMEOUT(4s) gemm=TIMEOUT(4s,SIGKILL) attn=CRASH(SIGSEGV) train=FAIL(exit 1) overall=FAIL"
expect "the hangs were cut short (took ${dt} s, < 30)" [ "$dt" -lt 30 ]

echo "== the total time budget caps the stages"
run_case budget TSR_FAKE_check=hang TSR_TO_CHECK=100 TSR_GPU_TOTAL_S=12
R=$TMP/budget/out/gpu-h200.txt
expect "check capped below its own timeout" grep -qE -- "-- check: TIMEOUT\(([0-9])s\)" "$R"
expect "later stages skipped for lack of time" grep -q "SKIP(no time left)" "$R"
expect "summary line last" last_is_summary "$R"

echo "== run.sh itself gets SIGTERM while a stage hangs"
mkdir -p "$TMP/term"
env TSR_GPU_CHECK="$FAKE" TSR_CUBLASLT=none TSR_FAKE_attn=hang TSR_TO_ATTN=100 \
    bash "$RUN" "$TMP/term/out" > "$TMP/term/stdout" 2>&1 &
pid=$!
R=$TMP/term/out/gpu-h200.txt
for _ in $(seq 1 100); do has "$R" "partial line before the hang" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
expect "exit status 143" [ "$rc" = 143 ]
expect "partial output of the interrupted stage" has "$R" "fake attn: partial line before the hang"
expect "interrupted stage recorded" has "$R" "attn=INTERRUPTED(run.sh got SIGTERM)"
expect "earlier stages recorded" has "$R" "check=PASS gemm=PASS"
expect "summary line last" last_is_summary "$R"
sleep 0.5
expect "no stand-in left running" bash -c "! pgrep -f 'fake_gpu_check[.]sh attn $TMP/term' > /dev/null"

echo "== results when nothing can run (stand-in skips: no GPU)"
run_case skip TSR_FAKE_check=skip TSR_FAKE_gemm=skip TSR_FAKE_attn=skip TSR_FAKE_train=skip
R=$TMP/skip/out/gpu-h200.txt
expect "summary says SKIP" has "$R" "overall=SKIP"
expect "summary line last" last_is_summary "$R"

echo "$checks checks, $fails failed"
if [ "$fails" -ne 0 ]; then
  for f in "$TMP"/*/out/gpu-h200.txt; do echo "---- $f"; cat "$f"; done
  exit 1
fi
