#!/bin/sh
# Fetches the ONNX Runtime C/C++ API headers (Debian trixie's libonnxruntime-dev, ~85 KB) into DEST
# without touching the system's apt configuration:
#   DEST/usr/include/onnxruntime/{onnxruntime_c_api.h, onnxruntime_cxx_api.h, onnxruntime_lite_custom_op.h, ...}
# Nothing is fetched when the headers are already installed (/usr/include/onnxruntime) or already in DEST.
# Mirror: $TSR_DEBIAN_MIRROR, else the first Debian archive URI of /etc/apt/sources.list{,.d/*},
# else deb.debian.org. Exit status 0 = headers available (prints their include directory), else 1.
set -eu
DEST=${1:?usage: fetch-ort-headers.sh DEST}
HDR=onnxruntime/onnxruntime_c_api.h
if [ -f "/usr/include/$HDR" ]; then echo /usr/include/onnxruntime; exit 0; fi
if [ -f "$DEST/usr/include/$HDR" ]; then echo "$DEST/usr/include/onnxruntime"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "fetch-ort-headers: apt-get/dpkg-deb not found" >&2; exit 1; }

mirror=${TSR_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # deb822 ("URIs: ...") or one-line ("deb URI suite ...") entries; skip the security archive
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
    grep -E '/debian/?$' | grep -v security | head -n 1 || true)
fi
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

work="$DEST/apt"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
src="$work/trixie.list"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -f "$keyring" ]; then
  echo "deb [signed-by=$keyring] $mirror trixie main" > "$src"
else
  echo "deb $mirror trixie main" > "$src"
fi
APT_OPTS="-o Dir::Etc::SourceList=$src -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists
 -o Dir::Cache=$work/cache -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none"
echo "fetch-ort-headers: trixie libonnxruntime-dev from $mirror" >&2
# shellcheck disable=SC2086
apt-get $APT_OPTS -q update >&2
# shellcheck disable=SC2086
(cd "$work/debs" && apt-get $APT_OPTS -q download libonnxruntime-dev) >&2
deb=$(ls "$work/debs"/libonnxruntime-dev_*.deb | head -n 1)
dpkg-deb -x "$deb" "$DEST"
rm -rf "$work/lists" "$work/cache"   # keep only the .deb (the cache) and the extracted headers
[ -f "$DEST/usr/include/$HDR" ] || { echo "fetch-ort-headers: $HDR not in $deb" >&2; exit 1; }
echo "$DEST/usr/include/onnxruntime"
