#!/usr/bin/env bash
# Starts the Python echo plugin with the stubs the build generated from proto/ (scripts/gen-proto.js
# writes them to .tools/gen/python), replacing itself with the Python process.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$DIR/../../.." && pwd)"
PYTHON="${OL_PYTHON:-$ROOT/.tools/venv/bin/python}"
export OL_PYTHON_STUBS="${OL_PYTHON_STUBS:-$ROOT/.tools/gen/python}"
exec "$PYTHON" "$DIR/echo_plugin.py"
