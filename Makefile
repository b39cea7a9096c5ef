# bpfconform. `make check` runs every spec on the engine (the main job); `make test` runs
# everything: type check, unit tests, every spec on the engine and on the live kernel.
# Both install the node dependencies on a fresh clone.

SHELL := /bin/bash
TSX := node --import tsx
SPECS ?= specs
BACKEND ?= engine

.PHONY: all setup check check-kernel check-both test unit typecheck oracles progs kernel-selftests retval-parity jit-corpus-parity bench fuzz clean

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

# With clang-19 present, first make sure the bytecode embedded from progs/*.c is current.
check: setup
	@if command -v clang-19 >/dev/null; then $(TSX) scripts/clang-step.ts --check $(SPECS); fi
	$(TSX) harness/cli.ts check $(SPECS) --backend $(BACKEND)

# The clang step: compile progs/*.c and write their bytecode into the specs that use them.
progs: setup
	$(TSX) scripts/clang-step.ts $(SPECS)

# Port the 6.12 verifier selftests into .cache/ (git-ignored) and run them; BACKEND=kernel|engine|both.
kernel-selftests: setup
	$(TSX) scripts/kernel-selftests.ts --backend $(BACKEND)

check-kernel: setup
	$(TSX) harness/cli.ts check $(SPECS) --backend kernel

# Engine and kernel side by side; the per-kind difference table goes to .cache/diff.{json,txt}.
check-both: setup
	mkdir -p .cache
	$(TSX) harness/cli.ts check $(SPECS) --backend both --diff-report .cache/diff.json

test: setup
	scripts/test-all.sh

# Re-record the fixtures that pin our text and semantics to the live kernel (root, Linux 6.18).
oracles: setup
	$(TSX) scripts/record-disasm-oracle.ts
	$(TSX) scripts/record-ctx-oracle.ts
	$(TSX) scripts/record-scalar-oracle.ts
	$(TSX) scripts/record-verifier-oracle.ts
	$(TSX) scripts/record-llvm-mc-fixture.ts

# Interpreter vs live-kernel retvals on the ported corpus (after kernel-selftests, root); the
# cases go into the cache for test/runtime-corpus-*.test.ts.
retval-parity: setup
	$(TSX) scripts/retval-parity.ts --record .cache/kernel-selftests/runtime-corpus-retval.json

# Our JIT against the live kernel's image, byte for byte (rel32 targets outside the image
# masked), on the corpus and specs/ (after kernel-selftests, root).
jit-corpus-parity: setup
	$(TSX) scripts/jit-corpus-parity.ts

# Speed, side by side in one run: our verify() against the kernel's reported verification time
# on the ported corpus and specs/ (ratios; JSON in .cache/bench.json). BENCH_ARGS=--no-kernel etc.
bench: setup
	scripts/bench.sh $(BENCH_ARGS)

# Differential fuzzing: random programs our verifier accepts, run in the interpreter and
# natively; r0 and memory must agree. Prints the seed and count. COUNT=100000 SEED=7 make fuzz
COUNT ?= 2000
fuzz: setup
	$(TSX) scripts/fuzz-jit.ts --count $(COUNT) --jobs 2 $(if $(SEED),--seed $(SEED))

clean:
	rm -rf node_modules .cache .tap
