#!/usr/bin/env bash
# `make test`: type check, clang-step freshness, the ported kernel selftest corpus on the live
# kernel (root), unit tests, every spec on the engine, and every spec on the live kernel (its
# runs skip with a reason where the kernel cannot run them). Prints each step's counts and,
# last, one total line `test: N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0 status=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3)); }

echo "== typecheck"
if npx tsc --noEmit -p .; then add 1 0 0; else add 0 1 0; status=1; fi

echo "== clang step: embedded bytecode is current"
if ! command -v clang-19 >/dev/null; then echo "skip: clang-19 not installed"; add 0 0 1
elif node --import tsx scripts/clang-step.ts --check specs; then add 1 0 0; else add 0 1 0; status=1; fi

echo "== kernel selftest corpus: port the 6.12 verifier selftests, run them on the live kernel"
# Ported programs stay in the git-ignored cache; the corpus unit tests below read them.
out=$(mktemp)
if [ "$(id -u)" != 0 ] || ! command -v clang-19 >/dev/null; then echo "skip: needs root and clang-19"; add 0 0 1
elif node --import tsx scripts/kernel-selftests.ts --backend kernel >"$out" 2>&1 &&
     node --import tsx scripts/retval-parity.ts --record .cache/kernel-selftests/runtime-corpus-retval.json >>"$out" 2>&1; then
  grep -E '^(ported|total|tests with a retval|  kernel ran|  interpreter agrees)' "$out"; add 1 0 0
else tail -30 "$out"; add 0 1 0; status=1; fi
rm -f "$out"

echo "== unit tests"
out=$(mktemp)
npx tap >"$out" 2>&1
tapstat=$?
grep -E '^(not ok|# \{)' "$out"
line=$(grep -E '^# \{ total: ' "$out" | tail -1)
num() { sed -nE "s/.*[{ ,]$1: ([0-9]+).*/\1/p" <<<"$line"; }
p=$(num pass); f=$(num fail); s=$(num skip); t=$(num todo)
add "${p:-0}" "${f:-0}" "$(( ${s:-0} + ${t:-0} ))"
if [ "$tapstat" != 0 ] && [ "${f:-0}" = 0 ]; then add 0 1 0; fi # a crashed runner is a failure
[ "$tapstat" = 0 ] || status=1
rm -f "$out"

for backend in engine kernel; do
  echo "== specs on the $backend"
  out=$(mktemp)
  node --import tsx harness/cli.ts check specs --backend "$backend" --reporter summary | tee "$out"
  st=${PIPESTATUS[0]}
  line=$(grep -E '^conformance: ' "$out" | tail -1)
  p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
  f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
  s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
  x=$(sed -nE 's/.* ([0-9]+) xfail.*/\1/p' <<<"$line")
  # xfails are expected failures with a reason: neither passes nor failures; count them with skips.
  add "${p:-0}" "${f:-0}" "$(( ${s:-0} + ${x:-0} ))"
  if [ -z "$line" ]; then add 0 1 0; fi
  [ "$st" = 0 ] || status=1
  rm -f "$out"
done

echo "test: $passed passed, $failed failed, $skipped skipped"
exit $status
