# The two commands of the Quickstart: `make up` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: up test build bootstrap bootstrap-tests gen native contracts down status clean

up: bootstrap build
	node kernel/dist/cli/main.js up

down:
	node kernel/dist/cli/main.js down

status:
	node kernel/dist/cli/main.js status

test: bootstrap-tests build
	npx jest --ci

bootstrap:
	@scripts/bootstrap.sh

bootstrap-tests:
	@scripts/bootstrap.sh --tests

gen:
	node scripts/gen-proto.js

build: gen
	npx tsc -b

clean:
	rm -rf kernel/sdk/src/gen kernel/dist kernel/sdk/dist contracts/out native/build
	find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete
