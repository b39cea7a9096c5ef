# bpfconform: `make check` runs every spec (the main job); `make test` runs everything.
# Both install the node dependencies on a fresh clone.

SHELL := /bin/bash
TSX := node --import tsx
SPECS ?= specs

.PHONY: all setup check test unit typecheck bench clean

all: test

# npm ci, then rebuild tap without its ts-node plugin (we run TypeScript through tsx).
node_modules/.setup-stamp: package-lock.json .taprc
	npm ci --no-audit --no-fund
	npx tap build >/dev/null
	touch $@

setup: node_modules/.setup-stamp

typecheck: setup
	npx tsc --noEmit -p .

unit: setup
	npx tap

check: setup
	$(TSX) harness/cli.ts check $(SPECS)

test: typecheck unit check

clean:
	rm -rf node_modules .cache
