#!/usr/bin/env bash
# Runs the whole test suite: installs the interop peers, restores, builds without warnings, tests,
# and ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh || { echo "could not install the interop peers"; echo "0 passed, 1 failed"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
dotnet build RdpNla.slnx -c Release -nologo 2>&1 | tee "$log" | grep -E 'error|warn' | grep -v '^\s*0 ' 
if ! grep -q 'Build succeeded' "$log"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
dotnet test --solution RdpNla.slnx -c Release --no-build --max-parallel-test-modules 1 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Microsoft.Testing.Platform prints "total: N / failed: N / succeeded: N / skipped: N" for the whole run.
passed=$(grep -E '^\s*succeeded:' "$log" | tail -1 | grep -oE '[0-9]+')
failed=$(grep -E '^\s*failed:' "$log" | tail -1 | grep -oE '[0-9]+')
skipped=$(grep -E '^\s*skipped:' "$log" | tail -1 | grep -oE '[0-9]+')
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
# The packages and the service unit (scripts/package-smoke.sh): each "ok - NAME" line is one passed test, each
# "not ok - NAME" one failed test.
smoke=$(scripts/package-smoke.sh)
smoke_status=$?
echo "$smoke"
smoke_passed=$(grep -c '^ok - ' <<<"$smoke")
smoke_failed=$(grep -c '^not ok - ' <<<"$smoke")
if [ "$smoke_status" -ne 0 ] && [ "$smoke_failed" -eq 0 ]; then
  smoke_failed=1
fi
passed=$((passed + smoke_passed))
failed=$((failed + smoke_failed))
[ "$smoke_failed" -eq 0 ] || status=1
# A short AFL++ run of every fuzz target (docs/fuzzing.md), counted as one test: any crash, hang or failure to run
# makes it one failed test. FUZZ_SECONDS=0 skips it.
fuzz_seconds=${FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
  if scripts/fuzz.sh -s "$fuzz_seconds"; then
    passed=$((passed + 1))
  else
    echo "fuzz smoke run failed"
    failed=$((failed + 1))
    status=1
  fi
fi
rm -f "$log"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
