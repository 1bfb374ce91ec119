#!/usr/bin/env bash
# Issue 18's check of bf16 training against fp32 on real data: the same 500-step IMDB pretraining
# (train/recipes/imdb-pretrain-cpu.yaml: 2 layers x 128, vocab 8192, 64 sequences of <= 128 tokens a step, 30% masking,
# seed 17) once with training.precision fp32 and once with bf16; prints both loss curves (means over each 10-step log
# interval), their largest relative gap after warmup, and the held-out MLM loss of each final checkpoint.
# Needs train/get-imdb.sh and the vocabulary (README, "The demo model"). Loss, not speed: may run beside other work.
# Usage: bench/curves/bf16_vs_fp32.sh [steps (default 500)] [jar (default target/quarkus-app/quarkus-run.jar)]
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-500}
JAR=${2:-target/quarkus-app/quarkus-run.jar}
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
OUT=work-data/curves
for P in fp32 bf16; do
  [ -f "$OUT/$P/final/training_state.json" ] || "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" pretrain \
      --recipe train/recipes/imdb-pretrain-cpu.yaml --max-steps "$STEPS" --output "$OUT/$P" \
      --set training.precision=$P --set training.eval_interval=$STEPS --set training.checkpoint_interval=$STEPS >&2
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
st = {p: json.load(open(f"{out}/{p}/final/training_state.json")) for p in ("fp32", "bf16")}
h = {p: {x["step"]: x["loss"] for x in s["loss_history"]} for p, s in st.items()}
steps = sorted(set(h["fp32"]) & set(h["bf16"]))
warm = max(1, int(0.06 * max(steps)))
print("step  fp32     bf16     rel.diff")
gaps = []
for s in steps:
    a, b = h["fp32"][s], h["bf16"][s]
    d = (b - a) / a
    if s > warm: gaps.append(abs(d))
    if s % 50 == 0 or s == steps[-1]: print(f"{s:4d}  {a:.4f}   {b:.4f}   {d:+.4f}")
print(f"largest |relative gap| after warmup (step > {warm}): {max(gaps):.4f}; mean {sum(gaps)/len(gaps):.4f}")
for p, s in st.items():
    ev = s.get("eval_history") or []
    if ev: print(f"{p}: held-out {ev[-1]}")
PY
