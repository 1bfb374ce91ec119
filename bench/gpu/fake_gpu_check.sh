#!/usr/bin/env bash
# Stand-in for gpu_check in bench/gpu/test_run_sh.sh (no GPU): same arguments (MODE RESULTS [BATCH]),
# writes lines to stdout and appends to RESULTS like gpu_check, then behaves as TSR_FAKE_<MODE> says:
#   ok (default) exit 0 | fail exit 1 | hang (sleeps, ignoring nothing) | hang_hard (also ignores
#   SIGTERM: needs timeout's SIGKILL) | crash (kill -SEGV itself) | skip (exit 77)
mode=${1:-all} res=${2:-/dev/null}
say() { echo "$*"; echo "$*" >> "$res"; }
var=TSR_FAKE_${mode}
how=${!var:-ok}
say "fake gpu_check $mode: started (behaviour $how)"
say "  ok   fake check 1 of $mode"
echo "fake $mode: a line on stderr" >&2
case $how in
  ok) say "fake $mode: 1 checks, 0 failed"; exit 0 ;;
  fail) say "  FAIL fake check 2 of $mode"; exit 1 ;;
  skip) say "SKIP: fake"; exit 77 ;;
  hang) say "fake $mode: partial line before the hang"; sleep 1000 & wait ;;
  hang_hard) trap '' TERM; say "fake $mode: partial line before the hard hang"; sleep 1000; sleep 1000 ;;
  crash) say "fake $mode: partial line before the crash"; kill -SEGV $$ ;;
esac
exit 3
