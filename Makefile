# The two commands of the Quickstart: `make up` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/node_modules/.bin:$(PATH)
JOBS ?= $(shell nproc)

.PHONY: up down status test proto-breaking build bootstrap bootstrap-tests gen native contracts ts gateway-go clean

up: bootstrap build
	node kernel/dist/cli/main.js up

down:
	node kernel/dist/cli/main.js down

status:
	node kernel/dist/cli/main.js status

test: bootstrap-tests build proto-breaking
	npx jest --ci

# proto packages are versioned: a change that breaks v1 clients fails the build (a no-op on main itself,
# it guards work on any other branch before it lands).
proto-breaking:
	@if git rev-parse --verify -q main >/dev/null; then buf breaking --against '.git#branch=main'; fi

bootstrap:
	@scripts/bootstrap.sh

bootstrap-tests:
	@scripts/bootstrap.sh --tests

# Generated TypeScript from proto/ (ts-proto via buf); never committed.
gen:
	node scripts/gen-proto.js

# Solidity -> contracts/out/*.json and typed ABIs (the contracts workspace's build script).
contracts:
	npm run --silent build -w @openledger/contracts

# The native engine: C++ library, tests, fuzzers and the Node-API addon.
native:
	cmake -S native -B native/build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build native/build -j $(JOBS)

ts: gen
	npx tsc -b

# The gateway's Go data plane -> .tools/bin/ol-gateway (the kernel starts it; see kernel/gateway-go).
gateway-go:
	cd kernel/gateway-go && go build -trimpath -o $(CURDIR)/.tools/bin/ol-gateway .

build: gen contracts native ts gateway-go

clean:
	rm -rf kernel/sdk/src/gen kernel/dist kernel/sdk/dist contracts/out native/build
	find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete
