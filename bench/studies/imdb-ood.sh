#!/usr/bin/env bash
# Issue 19, item 4: the IMDB-trained classifiers on reviews that are not about movies. Scores, on the review sentences
# of train/get-ood.sh (Amazon phones and accessories, Yelp restaurants; Kotzias et al. 2015, 1,000 each, balanced):
#   - the demo, checkpoints/imdb-sentiment (4 x 256 MosaicBERT, pretrained on IMDB text, finetuned on 40,000 reviews)
#   - its random-init control (the same recipe without pretraining: bench/studies/imdb-finetune.sh full)
#   - TF-IDF + logistic regression trained on the same 40,000 IMDB reviews
# and, to tell the change of topic apart from the change of form (one sentence instead of a whole review), the same
# source's IMDB sentences that are not inside any of our training reviews (in domain, unseen, one sentence each).
#
#   bench/studies/imdb-ood.sh      -> bench/results/imdb-ood/results.jsonl and summary.md
#
# Needs train/get-imdb.sh, train/get-ood.sh and the random-init control (RANDOM_INIT, default
# work-data/imdb-finetune/random-all-s17/best). A few minutes on 2 cores; TESSERA as in imdb-finetune.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
TESSERA=${TESSERA:-"$JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -jar target/quarkus-app/quarkus-run.jar"}
RANDOM_INIT=${RANDOM_INIT:-work-data/imdb-finetune/random-all-s17/best}
OOD=work-data/ood
RESULTS=bench/results/imdb-ood
mkdir -p "$RESULTS"
OUT=$RESULTS/results.jsonl
: > "$OUT"

# the in-domain reference: IMDB sentences whose text does not occur in a training review
python3 - work-data/imdb/train.jsonl $OOD/imdb-sentences.jsonl $OOD/imdb-sentences-unseen.jsonl <<'PY'
import json, sys
train = "\n".join(json.loads(l)["text"].lower() for l in open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
with open(sys.argv[3], "w") as f:
    for r in rows:
        if r["text"].lower() not in train:
            f.write(json.dumps(r) + "\n")
PY

record() { # DATASET MODEL JSON
  python3 -c "import json,sys; r=json.loads(sys.argv[3]); print(json.dumps({'data':sys.argv[1],'model':sys.argv[2],'accuracy':r['accuracy'],'examples':r.get('examples', r.get('test_examples'))},separators=(',',':')))" "$1" "$2" "$3" >> "$OUT"
  tail -n 1 "$OUT"
}

for data in amazon yelp imdb-sentences-unseen; do
  file=$OOD/$data.jsonl
  record $data demo "$($TESSERA eval --model checkpoints/imdb-sentiment --data $file --max-length 512)"
  record $data random-init "$($TESSERA eval --model "$RANDOM_INIT" --data $file --max-length 512)"
  record $data tfidf "$($TESSERA tfidf --train work-data/imdb/train.jsonl --test $file --seed 17)"
done

python3 - "$OUT" > "$RESULTS/summary.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
acc = {(r["data"], r["model"]): r for r in rows}
names = {"amazon": "Amazon sentences (phones, accessories)", "yelp": "Yelp sentences (restaurants)",
         "imdb-sentences-unseen": "IMDB sentences not in our training reviews (in domain)"}
print("| data | n | demo (pretrained 4×256) | random-init control | TF-IDF + LR |")
print("|---|---:|---:|---:|---:|")
for d in names:
    c = [acc.get((d, m)) for m in ("demo", "random-init", "tfidf")]
    print(f"| {names[d]} | {int(c[0]['examples']):,} | " + " | ".join(f"{100 * x['accuracy']:.1f}%" for x in c) + " |")
PY
cat "$RESULTS/summary.md"
