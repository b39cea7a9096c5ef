#!/usr/bin/env bash
# `make bench`: engine vs live-kernel verification time on the ported 6.12 selftests
# (.cache/kernel-selftests/specs, written by `make kernel-selftests`) and specs/.
# Extra arguments go to scripts/bench-verifier.ts (e.g. --reps 5, --json FILE, --no-kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .cache/kernel-selftests/specs ]; then
  echo "bench: .cache/kernel-selftests/specs is missing; run 'make kernel-selftests' first (benching specs/ only)" >&2
fi
mkdir -p .cache
exec node --import tsx scripts/bench-verifier.ts --json .cache/bench.json "$@"
