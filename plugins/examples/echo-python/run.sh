#!/usr/bin/env bash
# Starts the Python echo plugin: generates its gRPC stubs from proto/ when missing or stale
# (grpcio-tools, into the git-ignored gen/), then replaces itself with the Python process.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$DIR/../../.." && pwd)"
PYTHON="${OL_PYTHON:-$ROOT/.tools/venv/bin/python}"
PROTO="openledger/examples/v1/echo.proto"
STUB="$DIR/gen/openledger/examples/v1/echo_pb2.py"
if [[ ! -f "$STUB" || "$ROOT/proto/$PROTO" -nt "$STUB" ]]; then
  TMP="$(mktemp -d "$DIR/.gen-XXXXXX")"
  "$PYTHON" -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$TMP" --grpc_python_out="$TMP" "$PROTO" >&2
  rm -rf "$DIR/gen"
  mv "$TMP" "$DIR/gen" 2>/dev/null || rm -rf "$TMP" # another start won the race
fi
exec "$PYTHON" "$DIR/echo_plugin.py"
