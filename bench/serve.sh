#!/usr/bin/env bash
# Serving benchmark: /predict requests/s and latency on the demo model, batch 1 and batch 32, for short
# texts (~20 tokens) and review-length texts (~250 tokens). wrk shares the machine's cores with the server.
# Usage: bench/serve.sh [model-dir-root]   (needs wrk: apt-get install wrk)
# Starts the packaged server on port 18080, loads it with wrk, prints one line per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAR=${JAR:-target/quarkus-app/quarkus-run.jar}
[ -f "$JAR" ] || mvn -B -q package -DskipTests
MODELS=${1:-checkpoints}
DURATION=${DURATION:-20s}
"$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -Dquarkus.http.port=18080 -Dtessera.models.dir="$MODELS" -jar "$JAR" >/tmp/tessera-bench.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 1 120); do curl -sf localhost:18080/health/ready >/dev/null && break; sleep 0.5; done
curl -sf localhost:18080/info; echo
echo "# command: bench/serve.sh $MODELS  (wrk, ${DURATION} per row, $(nproc) cores)"
# warm-up
BATCH=1 wrk -t1 -c4 -d3s -s bench/predict.lua http://localhost:18080/predict >/dev/null
for cfg in "1 1 1" "1 16 1" "32 1 1" "32 4 1" "1 1 12" "1 16 12" "32 1 12" "32 4 12" "32 1 12 1"; do
  set -- $cfg
  printf "connections=%-3s " "$2"
  MIXED=${4:-0} REPEAT=$3 BATCH=$1 wrk -t1 -c"$2" -d"$DURATION" -s bench/predict.lua http://localhost:18080/predict | tail -1
done
