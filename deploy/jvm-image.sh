#!/usr/bin/env bash
# Builds Tessera's JVM image without a Docker daemon or a registry, runs it, and checks it from outside:
#   1. base image: a debootstrapped Debian bookworm (minbase + libgomp1) with a jlinked Java 25 runtime,
#      imported into the local container store (podman import);
#   2. the app image: src/main/docker/Dockerfile.jvm built by buildah (chroot isolation) on that base,
#      saved as a Docker archive (target/image/tessera-jvm.tar);
#   3. podman run (runc runtime, API keys set), then from the host: GET /health, POST /predict (401 without
#      a key, an answer with one) with the demo model, GET /metrics,
#      and a drain check: after SIGTERM /health/ready turns 503 while the process still serves, then it exits.
# Needs root, debootstrap, buildah, podman, runc (Debian: apt-get install debootstrap buildah podman runc),
# a JDK 25 with jlink, and the app built (mvn -B -DskipTests package; run here if missing). Network: only
# the Debian mirror, for debootstrap (the base is cached in the local store: later runs skip step 1).
# Usage: deploy/jvm-image.sh [--rebuild-base]   env: PORT (18080), DEBIAN_MIRROR, JAVA_HOME
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18080}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
BASE=localhost/tessera-base:bookworm-jre25
IMAGE=localhost/tessera:jvm
WORK=target/image
NAME=tessera-smoke-$$
PODMAN=(podman --runtime runc)
RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# modules for Quarkus/Vert.x/Netty, Jackson, ORT, DJL and picocli (chosen by hand; the run below exercises them)
MODULES=java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.naming,java.net.http,java.rmi,java.scripting,java.security.jgss,java.sql,java.transaction.xa,java.xml,jdk.jfr,jdk.management,jdk.net,jdk.unsupported,jdk.zipfs

t0=$(date +%s)
stage() { echo "== $(( $(date +%s) - t0 ))s: $*"; }
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, buildah, podman)" >&2; exit 2; }
for tool in debootstrap buildah podman runc; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
mkdir -p "$WORK"

if [ ! -f target/quarkus-app/quarkus-run.jar ]; then
  stage "building the app (mvn -B -DskipTests package)"
  JAVA_HOME=$JAVA_HOME PATH=$JAVA_HOME/bin:$PATH mvn -B -q -DskipTests package
fi

if [ "${1:-}" = --rebuild-base ] || ! podman image exists "$BASE"; then
  stage "base: debootstrap bookworm minbase + libgomp1"
  rootfs=$WORK/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=libgomp1 bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc "$rootfs"/usr/share/man
  stage "base: jlink Java 25 runtime"
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages \
    --compress zip-6 --output "$rootfs/opt/java/openjdk"
  stage "base: import as $BASE"
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV JAVA_HOME=/opt/java/openjdk' \
    --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

stage "image: buildah bud src/main/docker/Dockerfile.jvm on $BASE"
buildah bud --quiet --isolation chroot --pull=never --build-arg BASE="$BASE" \
  -f src/main/docker/Dockerfile.jvm -t "$IMAGE" . >/dev/null
rm -f "$WORK/tessera-jvm.tar"
podman save --quiet --format docker-archive -o "$WORK/tessera-jvm.tar" "$IMAGE"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
echo "image $IMAGE: $((size / 1000000)) MB (base $((base_size / 1000000)) MB); archive $WORK/tessera-jvm.tar: $(du -m "$WORK/tessera-jvm.tar" | cut -f1) MiB"

stage "run: podman run --runtime runc -p 127.0.0.1:$PORT:8080"
cleanup() { "${PODMAN[@]}" rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# API keys on, as k8s/base sets them from the tessera-auth Secret
KEY=smoke-$$-$RANDOM
"${PODMAN[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" -p "127.0.0.1:$PORT:8080" \
  -e TESSERA_AUTH_API_KEYS="$KEY" -e TESSERA_AUTH_ADMIN_KEYS="admin-$KEY" "$IMAGE" >/dev/null
url=http://127.0.0.1:$PORT
for i in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready" || true)" = 200 ] && break
  if [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
    "${PODMAN[@]}" logs "$NAME" | tail -30; echo "container exited" >&2; exit 1; fi
  sleep 1
done
stage "ready"
health=$(curl -sf "$url/health")
echo "GET /health -> $health"
echo "$health" | grep -q '"status": *"UP"' || { echo "health is not UP" >&2; exit 1; }
text='A wonderful, moving film with a brilliant cast.'
anonymous=$(curl -s -o /dev/null -w '%{http_code}' "$url/predict" -H 'content-type: application/json' -d '{"inputs": "x"}')
echo "POST /predict without a key -> $anonymous"
[ "$anonymous" = 401 ] || { echo "expected 401 without an API key" >&2; exit 1; }
answer=$(curl -sf "$url/predict" -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d "{\"inputs\": \"$text\"}")
echo "POST /predict \"$text\" -> $answer"
echo "$answer" | grep -q '"label"' || { echo "no label in the answer" >&2; exit 1; }
metrics=$(curl -sf "$url/metrics")   # (not piped into grep -q: with pipefail curl's SIGPIPE would fail it)
queue=$(grep '^tessera_queue_size' <<<"$metrics") || { echo "/metrics lacks tessera_queue_size" >&2; exit 1; }
echo "GET /metrics -> $queue"

stage "drain: SIGTERM, then /health/ready must turn 503 while the server still answers"
"${PODMAN[@]}" kill --signal TERM "$NAME" >/dev/null
drained=no
for i in $(seq 1 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready" || true)
  if [ "$code" = 503 ]; then drained=yes; break; fi
  sleep 0.1
done
live=$(curl -s -o /dev/null -w '%{http_code}' "$url/health/live" || true)
echo "after SIGTERM: /health/ready 503: $drained, /health/live still $live"
"${PODMAN[@]}" wait "$NAME" >/dev/null || true
echo "exit code $("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$NAME") after $(( $(date +%s) - t0 ))s total"
[ "$drained" = yes ] || { echo "readiness did not go down before exit" >&2; exit 1; }
stage "done"
