#!/usr/bin/env bash
# A side check of the 10 / 20 / 40-minute study (bench/studies/imdb-budgets.yaml): one of its pretrained encoders
# finetuned exactly like the study's cells (the same labelled subsets, seeds, epochs, length, batch and test scoring:
# the final model on all 5,000 test reviews) but at a learning rate given here instead of the one its dev sweep chose,
# and, with MAX_SEQ_LEN, at another length. INIT is a pretraining run's name (e.g. bert/40m) or random-init.
# Seeds, epochs, length and batch come from the study's own cells in results.json, so a label budget runs the seeds
# the study ran for it. With `check`, it first re-runs the study's seed-17 cell for the first label budget at the
# study's own rate and stops unless the test accuracy comes out as in results.json (the recipe below copies
# Study.finetuneRun's; the check is what keeps the copy honest). Runs already in the output are not repeated.
#
#   [LABELS="500 2000"] [MAX_SEQ_LEN=N] bench/studies/imdb-budgets-fixed-lr.sh INIT LR [check]
#   e.g. bench/studies/imdb-budgets-fixed-lr.sh mosaic_bert+budget/20m 1e-3 check
#        LABELS="10000 40000" bench/studies/imdb-budgets-fixed-lr.sh mosaic_bert/40m 1e-3 check
#        LABELS=2000 MAX_SEQ_LEN=128 bench/studies/imdb-budgets-fixed-lr.sh bert/40m 3e-3
#   -> bench/results/study-budgets/fixed-lr.jsonl
#
# Needs the study's work directory (work-data/study-budgets: the encoder and the labelled subsets). TESSERA as in
# imdb-finetune.sh. On 2 cores about 30 s a run at 500 labels, 3 minutes at 40,000.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
TESSERA=${TESSERA:-"$JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -jar target/quarkus-app/quarkus-run.jar"}
INIT=$1 LR=$2 CHECK=${3:-}
LABELS=${LABELS:-500 2000}
MAX_SEQ_LEN=${MAX_SEQ_LEN:-}
STUDY=work-data/study-budgets
RESULTS=bench/results/study-budgets/results.json
WORK=$STUDY/fixed-lr
OUT=bench/results/study-budgets/fixed-lr.jsonl
if [ "$INIT" = random-init ]; then INIT_DIR=$STUDY/random-init/init CELL=finetune/random-init
else INIT_DIR=$STUDY/pretrain/$INIT/final CELL=finetune/pretrain/$INIT; fi
mkdir -p "$WORK"
touch "$OUT"

# cells LABELS -> one line per study cell of INIT at LABELS: "SEED EPOCHS MAX_SEQ_LEN GLOBAL_BATCH LR TEST_ACCURACY"
cells() {
  python3 - "$RESULTS" "$CELL/$1/" <<'EOF'
import json, sys
prefix = sys.argv[2]
rows = [c for k, c in json.load(open(sys.argv[1]))["cells"].items() if k.startswith(prefix)]
if not rows:
    sys.exit(f"the study has no cell {prefix}seed*")
for c in sorted(rows, key=lambda c: c["seed"]):
    s = c["settings"]
    print(c["seed"], s["epochs"], s["max_seq_len"], s["global_batch"], s["lr"], c["test_accuracy"])
EOF
}

# run ID LABELS SEED LR EPOCHS MAX_SEQ_LEN GLOBAL_BATCH -> prints the test accuracy; the recipe is Study.finetuneRun's
run() {
  local id=$1 n=$2 seed=$3 lr=$4 epochs=$5 len=$6 batch=$7 dir=$WORK/$1
  cat > "$dir.yaml" <<EOF
kind: finetune
seed: $seed
model: {init_from: $INIT_DIR, max_seq_len: $len, dropout: 0.1}
data: {train: [$STUDY/labels/train-seed$seed-$n.jsonl], format: jsonl, task: custom,
       columns: {text: text, label: label}, labels: [negative, positive]}
optimizer: {lr: $lr}
schedule: {warmup_fraction: 0.06, final_lr_fraction: 0.0}
batch: {global_batch: $batch, microbatch_tokens: $(( len > 8192 ? len : 8192 ))}
training: {epochs: $epochs, log_interval: 10, checkpoint_interval: 200, keep_checkpoints: 1, output_dir: $dir}
EOF
  $TESSERA finetune --recipe "$dir.yaml" > "$dir.log" 2>&1 || { tail -5 "$dir.log" >&2; return 1; }
  $TESSERA eval --model "$dir/final" --data work-data/imdb/test.jsonl --max-length "$len" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])"
}

case $CHECK in
  check)
    first=${LABELS%% *}
    study_cells=$(cells "$first")
    read -r seed epochs len batch study_lr want <<< "${study_cells%%$'\n'*}"
    got=$(run "check-$first-s$seed" "$first" "$seed" "$study_lr" "$epochs" "$len" "$batch")
    echo "check: $INIT $first labels seed $seed lr $study_lr: $got here, $want in the study"
    python3 -c "import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.002)" "$got" "$want" \
      || { echo "the re-run does not match the study's cell"; exit 1; } ;;
  "") ;;
  *) echo "the third argument is 'check' or nothing, not '$CHECK'" >&2; exit 2 ;;
esac
for n in $LABELS; do
  study_cells=$(cells "$n")
  while read -r seed epochs len batch _ _; do
    len=${MAX_SEQ_LEN:-$len}
    row="{\"init\":\"$INIT\",\"labels\":$n,\"seed\":$seed,\"lr\":$LR,\"max_seq_len\":$len"
    if grep -qF "$row," "$OUT"; then echo "done already: $row}"; continue; fi
    id="$(echo "$INIT" | tr '/+' '__')-$n-s$seed-lr$LR${MAX_SEQ_LEN:+-len$len}"
    acc=$(run "$id" "$n" "$seed" "$LR" "$epochs" "$len" "$batch" < /dev/null)
    echo "$row,\"test_accuracy\":$acc}" | tee -a "$OUT"
  done <<< "$study_cells"
done
