#!/usr/bin/env bash
# Issue 19's finetuning study: does the demo's pretrained encoder pay, at 500 / 2,000 / 40,000 labels, against the
# same model from random initialisation (same recipe, its own best learning rate) and TF-IDF + logistic regression
# on the same examples? Every run is scored on the 5,000 held-out IMDB test reviews at 512 tokens.
#
#   bench/studies/imdb-finetune.sh sweep     # learning rates at 500 labels, seed 17, chosen on 1,000 dev reviews
#   bench/studies/imdb-finetune.sh labels    # 500 and 2,000 labels x 3 seeds x {pretrained, random}, + TF-IDF
#   bench/studies/imdb-finetune.sh full      # all 40,000 labels, 1 epoch, seed 17 (the demo and its control), + TF-IDF
#   bench/studies/imdb-finetune.sh lengths   # the full-data models' test accuracy at 128 / 256 / 512 / 1024 tokens
#   bench/studies/imdb-finetune.sh variants  # recipe keys against the plain pretrained recipe at 500 labels x 3 seeds:
#                                            # model.pooling=mean, optimizer.layer_decay=0.8; mean pooling on all labels
#   bench/studies/imdb-finetune.sh distill   # knowledge distillation: the demo (4 x 256) teaches a 2 x 128 student (STUDENT,
#                                            # default the issue-19 study's MosaicBERT after 20 training-minutes) on all
#                                            # 40,000 labels, 1 epoch, against the same student on the hard labels alone;
#                                            # and 2,000 labels + the teacher on the 40,000 training texts vs 2,000 alone
#   bench/studies/imdb-finetune.sh summary   # bench/results/imdb-finetune/summary.md from runs.jsonl
#
# Needs train/get-imdb.sh, the vocabulary and the pretrained encoder (train/recipes/imdb-demo-pretrain.yaml).
# Resumable: a finished run is in runs.jsonl and is skipped; a killed one continues from its checkpoints.
# Long: run it alone on the machine (nice is fine), never in CI. TESSERA (default: the built jar) and PRETRAINED
# (default work-data/imdb-demo-pretrain/final) may be set; LR_PRE / LR_RANDOM fix the rates the sweep chose; THREADS
# the threads of each run (default: all cores); MODELS="random" runs only the random-init (and TF-IDF) half of a
# phase — it needs the encoder's shapes, not its weights, so it can run while the encoder is still pretraining;
# SEEDS the seeds of the labels phase (default "17 18 19"). Two instances may share the work only on disjoint runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
TESSERA=${TESSERA:-"$JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -jar target/quarkus-app/quarkus-run.jar"}
PRETRAINED=${PRETRAINED:-work-data/imdb-demo-pretrain/final}
RECIPE=train/recipes/imdb-demo-finetune.yaml
RESULTS=bench/results/imdb-finetune
WORK=work-data/imdb-finetune
DATA=work-data/imdb
mkdir -p "$RESULTS" "$WORK"
RUNS=$RESULTS/runs.jsonl
touch "$RUNS"
[ -f $DATA/dev-1000.jsonl ] || head -n 1000 $DATA/dev.jsonl > $DATA/dev-1000.jsonl

done_already() { grep -q "\"name\":\"$1\"" "$RUNS"; }

# finetune NAME INIT(pretrained|random) LABELS(0 = all) SEED LR EPOCHS DEV [TEST: yes|no] [VARIANT [--set KEY=VALUE ...]]
finetune() {
  local name=$1 init=$2 labels=$3 seed=$4 lr=$5 epochs=$6 dev=$7 scored=${8:-yes} variant=${9:-}
  local extra=("${@:10}")
  [[ " ${MODELS:-pretrained random} " == *" $init "* ]] || return 0
  done_already "$name" && { echo "skip $name (in $RUNS)"; return; }
  local out=$WORK/$name args=(--set seed=$seed --set optimizer.lr=$lr --epochs $epochs --eval $dev "${extra[@]}")
  [ "$init" = random ] && args+=(--set model.random_init=true)
  [ "$labels" != 0 ] && args+=(--set data.train_examples=$labels)
  echo "== $name: $init, labels ${labels/#0/all}, seed $seed, lr $lr, $epochs epochs"
  local t0=$SECONDS
  $TESSERA finetune --recipe $RECIPE --init-from "$PRETRAINED" --output "$out" --threads "${THREADS:-0}" "${args[@]}" > "$out.log" 2>&1 \
    || { tail -5 "$out.log"; return 1; }
  local secs=$((SECONDS - t0))
  local dev_acc test
  dev_acc=$(python3 -c "import json,sys; s=json.load(open('$out/best/training_state.json')); print(s['best_metric'])")
  test='{"accuracy": null}'
  [ "$scored" = yes ] && test=$($TESSERA eval --model "$out/best" --data $DATA/test.jsonl --max-length 512 --threads "${THREADS:-0}")
  python3 - "$name" "$init${variant:+ $variant}" "$labels" "$seed" "$lr" "$epochs" "$dev" "$dev_acc" "$secs" "$test" >> "$RUNS" <<'PY'
import json, sys
name, init, labels, seed, lr, epochs, dev, dev_acc, secs, test = sys.argv[1:]
t = json.loads(test)
print(json.dumps({"name": name, "model": init, "labels": int(labels) or 40000, "seed": int(seed), "lr": float(lr),
                  "epochs": int(epochs), "dev_file": dev, "dev_accuracy": float(dev_acc), "test_accuracy": t["accuracy"],
                  "test_examples": 5000, "eval_length": 512, "train_seconds": int(secs)}, separators=(",", ":")))
PY
  tail -n 1 "$RUNS"
}

# tfidf LABELS(0 = all) SEED
tfidf() {
  local name=tfidf-$1-s$2
  done_already "$name" && return
  local args=(--train $DATA/train.jsonl --test $DATA/test.jsonl --seed $2)
  [ "$1" != 0 ] && args+=(--examples $1)
  local r
  r=$($TESSERA tfidf "${args[@]}")
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(json.dumps({'name':'$name','model':'tfidf','labels':r['train_examples'],'seed':$2,'test_accuracy':r['accuracy'],'test_examples':r['test_examples'],'features':r['features']},separators=(',',':')))" "$r" >> "$RUNS"
  tail -n 1 "$RUNS"
}

# the rates chosen by the sweep: best dev accuracy per model (or LR_PRE / LR_RANDOM)
best_lr() {
  python3 -c "
import json
runs=[json.loads(l) for l in open('$RUNS') if l.strip()]
s=[r for r in runs if r['name'].startswith('sweep-$1-')]
print(max(s,key=lambda r:r['dev_accuracy'])['lr'] if s else '')"
}

for phase in "$@"; do
  case $phase in
    sweep|sweep-pretrained|sweep-random)
      # chosen on dev only: the test set is not read. (The random-init half needs only the encoder's shapes.)
      if [ $phase != sweep-random ]; then
        for lr in 3e-4 1e-3; do finetune sweep-pretrained-$lr pretrained 500 17 $lr 10 $DATA/dev-1000.jsonl no; done
      fi
      if [ $phase != sweep-pretrained ]; then
        for lr in 3e-4 1e-3 3e-3; do finetune sweep-random-$lr random 500 17 $lr 10 $DATA/dev-1000.jsonl no; done
      fi ;;
    labels|full)
      pre=${LR_PRE:-$(best_lr pretrained)}; rnd=${LR_RANDOM:-$(best_lr random)}
      [ -n "$rnd" ] && { [ -n "$pre" ] || [ "${MODELS:-}" = random ]; } || { echo "run the sweep first (or set LR_PRE and LR_RANDOM)"; exit 2; }
      echo "learning rates: pretrained $pre, random init $rnd"
      if [ $phase = labels ]; then
        for seed in ${SEEDS:-17 18 19}; do
          for n in 500 2000; do
            epochs=$([ $n = 500 ] && echo 10 || echo 5)
            finetune pretrained-$n-s$seed pretrained $n $seed "$pre" $epochs $DATA/dev-1000.jsonl
            finetune random-$n-s$seed random $n $seed "$rnd" $epochs $DATA/dev-1000.jsonl
            tfidf $n $seed
          done
        done
      else
        finetune pretrained-all-s17 pretrained 0 17 "$pre" 1 $DATA/dev.jsonl
        finetune random-all-s17 random 0 17 "$rnd" 1 $DATA/dev.jsonl
        tfidf 0 17
      fi ;;
    lengths)
      # accuracy vs serving length: the full-data models (trained at <= 256 tokens) read 128 ... 1024 tokens
      for m in pretrained random; do
        for len in 128 256 512 1024; do
          grep -q "\"name\":\"$m-all-s17\",\"length\":$len," "$RESULTS/lengths.jsonl" 2>/dev/null && continue
          r=$($TESSERA eval --model $WORK/$m-all-s17/best --data $DATA/test.jsonl --max-length $len --threads "${THREADS:-0}")
          python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(json.dumps({'name':'$m-all-s17','length':$len,'test_accuracy':r['accuracy']},separators=(',',':')))" "$r" >> "$RESULTS/lengths.jsonl"
          tail -n 1 "$RESULTS/lengths.jsonl"
        done
      done ;;
    variants)
      # each key alone against the plain recipe's pretrained rows (same seeds, subsets and learning rate)
      pre=${LR_PRE:-$(best_lr pretrained)}
      [ -n "$pre" ] || { echo "run the sweep first (or set LR_PRE)"; exit 2; }
      for seed in ${SEEDS:-17 18 19}; do
        finetune pretrained-mean-500-s$seed pretrained 500 $seed "$pre" 10 $DATA/dev-1000.jsonl yes "mean pooling" --set model.pooling=mean
        finetune pretrained-llrd-500-s$seed pretrained 500 $seed "$pre" 10 $DATA/dev-1000.jsonl yes "layer decay 0.8" --set optimizer.layer_decay=0.8
      done
      # and mean pooling on all 40,000 labels, the demo's recipe otherwise (against pretrained-all-s17)
      finetune pretrained-mean-all-s17 pretrained 0 17 "$pre" 1 $DATA/dev.jsonl yes "mean pooling" --set model.pooling=mean ;;
    distill)
      # the same student, recipe, seed and learning rate (LR_STUDENT) with and without the teacher's soft labels
      # (T = 2, alpha = 0.5, the textbook setting; the teacher reads each review at the run's 256 tokens)
      saved=$PRETRAINED; PRETRAINED=${STUDENT:-work-data/study-budgets/pretrain/mosaic_bert/20m/final}
      lr=${LR_STUDENT:-1e-3}
      finetune student-all-s17 pretrained 0 17 "$lr" 1 $DATA/dev.jsonl yes "2x128 student"
      finetune student-kd-all-s17 pretrained 0 17 "$lr" 1 $DATA/dev.jsonl yes "2x128 student, distilled" \
        --set distill.teacher=checkpoints/imdb-sentiment --set distill.temperature=2.0 --set distill.alpha=0.5
      # labels scarce, a teacher at hand: 2,000 labelled reviews (the label-budget recipe: 5 epochs), against the same
      # 2,000 plus the teacher's soft labels on all 40,000 training texts as unlabelled rows (one epoch = 42,000 rows).
      # Caveat: the teacher was finetuned on those 40,000 labels, so it passes on what it learnt from them.
      finetune student-2000-s17 pretrained 2000 17 "$lr" 5 $DATA/dev-1000.jsonl yes "2x128 student"
      finetune student-kd-2000-s17 pretrained 2000 17 "$lr" 1 $DATA/dev.jsonl yes "2x128 student, distilled" \
        --set distill.teacher=checkpoints/imdb-sentiment --set distill.temperature=2.0 --set distill.alpha=0.5 \
        --set "distill.unlabelled=[$DATA/train.jsonl]"
      PRETRAINED=$saved ;;
    summary)
      python3 bench/studies/imdb_finetune_summary.py "$RUNS" > "$RESULTS/summary.md"; cat "$RESULTS/summary.md"
      $TESSERA plot --runs "$RUNS" --output "$RESULTS/accuracy-vs-labels.png" ;;
    *) echo "unknown phase $phase (sweep, sweep-pretrained, sweep-random, labels, full, lengths, variants, distill, summary)"; exit 2 ;;
  esac
done
