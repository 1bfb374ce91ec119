#!/usr/bin/env bash
# A side check of the 10 / 20 / 40-minute study (bench/studies/imdb-budgets.yaml): one of its pretrained encoders
# finetuned exactly like a study cell (the same labelled subsets, recipe, epochs and test scoring: the final model on
# all 5,000 test reviews at 256 tokens) but at a learning rate given here instead of the one its dev sweep chose. It
# first re-runs one study cell at the study's own rate and checks that the test accuracy comes out as in results.json.
# LABELS picks the label budgets (default 500 2000, three seeds each; 10000 and 40000 run seed 17 only, 2 and 1 epochs,
# as in the study).
#
#   bench/studies/imdb-budgets-fixed-lr.sh INIT LR [STUDY_LR]
#   e.g. bench/studies/imdb-budgets-fixed-lr.sh mosaic_bert+budget/20m 1e-3 3e-3
#        LABELS="10000 40000" bench/studies/imdb-budgets-fixed-lr.sh mosaic_bert/40m 1e-3 3e-3
#   -> bench/results/study-budgets/fixed-lr.jsonl
#
# Needs the study's work directory (work-data/study-budgets: the encoder and the labelled subsets). TESSERA as in
# imdb-finetune.sh. On 2 cores about 30 s a run at 500 labels, 3 minutes at 40,000.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
TESSERA=${TESSERA:-"$JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -jar target/quarkus-app/quarkus-run.jar"}
INIT=$1 LR=$2 STUDY_LR=${3:-}
LABELS=${LABELS:-500 2000}
STUDY=work-data/study-budgets
WORK=$STUDY/fixed-lr
OUT=bench/results/study-budgets/fixed-lr.jsonl
mkdir -p "$WORK"
touch "$OUT"

# run ID LABELS SEED LR EPOCHS -> prints the test accuracy; the recipe is Study.finetuneRun's
run() {
  local id=$1 n=$2 seed=$3 lr=$4 epochs=$5 dir=$WORK/$1
  cat > "$dir.yaml" <<EOF
kind: finetune
seed: $seed
model: {init_from: $STUDY/pretrain/$INIT/final, max_seq_len: 256, dropout: 0.1}
data: {train: [$STUDY/labels/train-seed$seed-$n.jsonl], format: jsonl, task: custom,
       columns: {text: text, label: label}, labels: [negative, positive]}
optimizer: {lr: $lr}
schedule: {warmup_fraction: 0.06, final_lr_fraction: 0.0}
batch: {global_batch: 32, microbatch_tokens: 8192}
training: {epochs: $epochs, log_interval: 10, checkpoint_interval: 200, keep_checkpoints: 1, output_dir: $dir}
EOF
  $TESSERA finetune --recipe "$dir.yaml" > "$dir.log" 2>&1 || { tail -5 "$dir.log" >&2; return 1; }
  $TESSERA eval --model "$dir/final" --data work-data/imdb/test.jsonl --max-length 256 \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])"
}

# the study's schedule for a label budget: "SEEDS EPOCHS"
plan() { case $1 in 500) echo "17 18 19" 5;; 2000) echo "17 18 19" 5;; 10000) echo 17 2;; 40000) echo 17 1;;
         *) echo "no study cell has $1 labels" >&2; exit 2;; esac; }
first=${LABELS%% *}
read -r -a first_plan <<< "$(plan "$first")"

if [ -n "$STUDY_LR" ]; then
  # the check: the study's own cell for the first label budget, re-run here, must give the study's figure
  got=$(run "check-$first-s17" "$first" 17 "$STUDY_LR" "${first_plan[-1]}")
  want=$(python3 -c "import json; print(json.load(open('bench/results/study-budgets/results.json'))['cells']['finetune/pretrain/$INIT/$first/seed17']['test_accuracy'])")
  echo "check: $INIT $first labels seed 17 lr $STUDY_LR: $got here, $want in the study"
  python3 -c "import sys; sys.exit(abs(float('$got') - float('$want')) > 0.002)" || { echo "the re-run does not match the study's cell"; exit 1; }
fi
for n in $LABELS; do
  read -r -a p <<< "$(plan "$n")"
  epochs=${p[-1]}
  for seed in "${p[@]:0:${#p[@]}-1}"; do
    acc=$(run "$(echo "$INIT" | tr '/+' '__')-$n-s$seed-lr$LR" "$n" "$seed" "$LR" "$epochs")
    echo "{\"init\":\"$INIT\",\"labels\":$n,\"seed\":$seed,\"lr\":$LR,\"test_accuracy\":$acc}" | tee -a "$OUT"
  done
done
