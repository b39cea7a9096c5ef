#!/usr/bin/env bash
# `make bench`, side by side in one run each:
#  1. engine vs live-kernel verification time on the ported 6.12 selftests
#     (.cache/kernel-selftests/specs, written by `make kernel-selftests`) and specs/;
#     extra arguments go to scripts/bench-verifier.ts (e.g. --reps 5, --no-kernel);
#  2. JIT compile time, and native vs interpreter execution speed (scripts/bench-jit.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .cache/kernel-selftests/specs ]; then
  echo "bench: .cache/kernel-selftests/specs is missing; run 'make kernel-selftests' first (benching specs/ only)" >&2
fi
mkdir -p .cache
node --import tsx scripts/bench-verifier.ts --json .cache/bench.json "$@"
node --import tsx scripts/bench-jit.ts
