#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the llama-cpp-python source package on PyPI (no other
# network needed) and prints the binary's path. The build takes about 10 minutes on two cores,
# so it is cached outside the repository, keyed by the package's version:
#   ${DEMETRA_CACHE:-~/.cache/demetra}/llama-server-<version>/llama-server
# The real-model test (tests/llm_real) finds it there; CI runs this script before the tests.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${DEMETRA_CACHE:-$HOME/.cache/demetra}"
OUT="$CACHE/llama-server-$VERSION"
if [ -x "$OUT/llama-server" ]; then
    echo "$OUT/llama-server"
    exit 0
fi
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$WORK" "llama-cpp-python==$VERSION" >&2
tar xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$OUT.tmp"
cp "$WORK/build/bin/llama-server" "$OUT.tmp/"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "$OUT/llama-server"
