#!/usr/bin/env bash
# Builds the probe into $OUT (default /tmp/llamacpp-probe): dump against node-llama-cpp's own
# llama.cpp libraries (headers from the source bundle it ships), compare against native/build.
# Needs: `cmake --build native/build` done, node_modules installed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/llamacpp-probe}
NLC=$ROOT/node_modules/node-llama-cpp/llama
BINS=$ROOT/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
mkdir -p "$OUT"
[ -d "$OUT/llama.cpp" ] || git clone -q "$NLC/gitRelease.bundle" "$OUT/llama.cpp"
g++ -std=c++17 -O1 "$HERE/dump.cpp" -I"$OUT/llama.cpp/include" -I"$OUT/llama.cpp/ggml/include" -o "$OUT/dump" \
  "$BINS"/libllama.v*.so "$BINS"/libggml.v*.so "$BINS/libggml-base.so" -Wl,-rpath,"$BINS"
g++ -std=c++20 -O2 "$HERE/compare.cpp" -I"$ROOT/native/src" -I"$ROOT/native/include" -o "$OUT/compare" \
  "$ROOT/native/build/libol_engine.a" "$ROOT/native/build/src/tokenizer/libol_tokenizer.a" -lpthread
echo "built $OUT/dump and $OUT/compare; backends: $BINS"
