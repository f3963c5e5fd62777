#!/usr/bin/env bash
# Fuzzes the protocol decoders with AFL++ and SharpFuzz (docs/fuzzing.md).
#
#   scripts/fuzz.sh [-s SECONDS] [-j JOBS] [TARGET...]
#
# Runs every target (or the ones named) for SECONDS each (default 60), JOBS at a time (default: the number of cores).
# Installs afl++ (Debian) and the sharpfuzz dotnet tool (.config/dotnet-tools.json) when missing, publishes
# fuzz/RdpNla.Fuzz to artifacts/fuzz/bin, instruments RdpNla.Protocol.dll and RdpNla.Transport.dll there, writes the
# seed corpus from tests/TestVectors (plus the regression inputs of tests/TestVectors/fuzz/TARGET), and runs
# afl-fuzz with a fresh findings directory per target. Prints one line per target (execs, crashes, hangs, the
# slowest corpus input replayed in process) and writes artifacts/fuzz/summary.tsv. Exits non-zero when any target
# found a crash or a hang (the inputs are listed with the exception they raise), or when afl-fuzz could not run.
# FUZZ_OUT moves artifacts/fuzz elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=60
jobs=$(nproc 2>/dev/null || echo 1)
while getopts "s:j:h" opt; do
  case $opt in
    s) seconds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

out=${FUZZ_OUT:-$root/artifacts/fuzz}
bin=$out/bin
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# 1. Tools.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "fuzz: installing afl++"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends afl++ >/dev/null \
    || { echo "fuzz: could not install afl++"; exit 1; }
fi
dotnet tool restore >/dev/null || { echo "fuzz: dotnet tool restore failed"; exit 1; }

# 2. Build, then instrument a copy. The instrumented code writes to afl's shared memory and crashes outside afl-fuzz,
#    so seeds and replays use the plain copy (and the solution's own build output is never touched).
plain=$out/plain
rm -rf "$bin" "$plain"
mkdir -p "$out"
if ! dotnet publish fuzz/RdpNla.Fuzz/RdpNla.Fuzz.csproj -c Release -o "$plain" -nologo -v quiet >"$out/publish.log" 2>&1; then
  cat "$out/publish.log"; echo "fuzz: publish failed"; exit 1
fi
cp -r "$plain" "$bin"
for assembly in RdpNla.Protocol.dll RdpNla.Transport.dll; do
  dotnet tool run sharpfuzz "$bin/$assembly" >/dev/null || { echo "fuzz: sharpfuzz could not instrument $assembly"; exit 1; }
done
harness=(dotnet "$plain/RdpNla.Fuzz.dll")

all_targets=$("${harness[@]}" list) || { echo "fuzz: the harness does not start"; exit 1; }
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets <<<"$all_targets"
for t in "${targets[@]}"; do
  grep -qx -- "$t" <<<"$all_targets" || { echo "fuzz: unknown target '$t' (targets: $(echo $all_targets))"; exit 2; }
done

# 3. Seeds.
rm -rf "$out/corpus"
"${harness[@]}" seeds tests/TestVectors "$out/corpus" >/dev/null || { echo "fuzz: seed generation failed"; exit 1; }
for t in "${targets[@]}"; do
  if [ -d "tests/TestVectors/fuzz/$t" ]; then
    cp tests/TestVectors/fuzz/"$t"/* "$out/corpus/$t/" 2>/dev/null
  fi
done

# 4. Fuzz.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1
fuzz_one() {
  local t=$1 dir=$out/findings/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  # -t 10000: a hang is an input that runs over 10 s (the slowest corpus input is reported below); -m none: the CLR
  # reserves far more address space than afl's default memory limit.
  afl-fuzz -i "$out/corpus/$t" -o "$dir" -V "$seconds" -t 10000 -m none -- dotnet "$bin/RdpNla.Fuzz.dll" run "$t" >"$dir/afl.log" 2>&1
  echo $? >"$dir/afl.rc"
}
running=0
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${seconds}s"
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

# 5. Report.
failed=0
printf 'target\texecs\tseconds\texecs_per_sec\tcorpus\tcrashes\thangs\tslowest_input_ms\tstability\n' >"$out/summary.tsv"
printf '%-18s %12s %8s %8s %7s %8s %6s %10s\n' target execs seconds exec/s corpus crashes hangs slowest
for t in "${targets[@]}"; do
  dir=$out/findings/$t
  stats=$dir/default/fuzzer_stats
  if [ ! -f "$stats" ] || [ "$(cat "$dir/afl.rc")" -ne 0 ]; then
    echo "fuzz: afl-fuzz did not run $t (exit $(cat "$dir/afl.rc" 2>/dev/null)); the end of $dir/afl.log:"
    tail -n 25 "$dir/afl.log"
    failed=1
    continue
  fi
  stat() { grep -E "^$1 *:" "$stats" | head -1 | sed 's/^[^:]*: *//'; }
  execs=$(stat execs_done); run=$(stat run_time); eps=$(stat execs_per_sec); paths=$(stat corpus_count)
  crashes=$(stat saved_crashes); hangs=$(stat saved_hangs); stability=$(stat stability)
  # The slowest input of the final corpus, replayed in process (warm; afl's own slowest_exec_ms stays 0 with
  # SharpFuzz's fork server). The replay also re-checks every corpus input outside afl.
  if ! "${harness[@]}" replay "$t" "$dir/default/queue" >"$dir/replay.log" 2>&1; then
    echo "fuzz: $t: replaying the corpus in process failed:"; grep -E '^CRASH' "$dir/replay.log" | head -5
    failed=1
  fi
  slowest=$(sed -n 's/^slowest input (warm run): \([0-9.]*\) ms.*/\1/p' "$dir/replay.log")
  [ -z "$run" ] && run=$(( $(stat last_update) - $(stat start_time) ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$execs" "$run" "$eps" "$paths" "$crashes" "$hangs" "$slowest" "$stability" >>"$out/summary.tsv"
  printf '%-18s %12s %8s %8s %7s %8s %6s %10s\n' "$t" "$execs" "$run" "$eps" "$paths" "$crashes" "$hangs" "${slowest}ms"
  if [ "${crashes:-0}" -ne 0 ] || [ "${hangs:-0}" -ne 0 ]; then
    failed=1
    for kind in crashes hangs; do
      for input in "$dir/default/$kind"/id:*; do
        [ -e "$input" ] || continue
        echo "fuzz: $t: $kind input: $input"
        echo "      replay: dotnet $plain/RdpNla.Fuzz.dll replay $t '$input'"
        "${harness[@]}" replay "$t" "$input" 2>&1 | grep -E '^CRASH|^   at' | head -12 | sed 's/^/      /'
      done
    done
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (findings under $out/findings; a crash input becomes tests/TestVectors/fuzz/TARGET/NAME and a regression test)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash, no hang"
