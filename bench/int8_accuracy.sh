#!/usr/bin/env bash
# int8 vs fp32 on the IMDB test split, through the HTTP serving path: the demo classifier served once per
# precision (same dialect), each review classified by bench/imdb_http_eval.py, accuracies and their delta printed.
# Usage: bench/int8_accuracy.sh [dialect] [limit]   (needs train/get-imdb.sh's work-data/imdb/test.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAR=target/quarkus-app/quarkus-run.jar
DIALECT=${1:-tessera}
LIMIT=${2:-}
TEST=work-data/imdb/test.jsonl
[ -f "$TEST" ] || train/get-imdb.sh
[ -f "$JAR" ] || mvn -B -q package -DskipTests
echo "# command: bench/int8_accuracy.sh $DIALECT $LIMIT"
for precision in fp32 int8; do
  "$JAVA_HOME/bin/java" -Xmx512m -Dquarkus.http.port=18085 -Dtessera.models.dir=checkpoints \
    -Dtessera.serving.dialect="$DIALECT" -Dtessera.serving.precision=$precision -jar "$JAR" >/tmp/tessera-int8-$precision.log 2>&1 &
  PID=$!
  for _ in $(seq 1 120); do curl -sf localhost:18085/health/ready >/dev/null && break; sleep 0.5; done
  echo "$precision: $(curl -s localhost:18085/v1/models/imdb-sentiment | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["dialect"], d["precision"], d["device"])')"
  python3 bench/imdb_http_eval.py http://localhost:18085 imdb-sentiment "$TEST" $LIMIT | tee /tmp/tessera-int8-$precision.txt
  kill $PID; wait $PID 2>/dev/null || true
done
python3 - <<'PY'
import re
acc = {p: float(re.search(r"accuracy ([0-9.]+)", open(f"/tmp/tessera-int8-{p}.txt").read()).group(1)) for p in ("fp32", "int8")}
print(f"int8 - fp32 accuracy: {100 * (acc['int8'] - acc['fp32']):+.2f} points")
PY
