#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of every library that tracks its public API (docs/architecture.md, "Public API"):
# each project folder under src/ with a PublicAPI.Shipped.txt. The Unshipped file is reset, the libraries are built
# with warnings left as warnings, and every symbol the public API analyzer reports as undeclared (RS0016) is written
# back, sorted, minus what PublicAPI.Shipped.txt already lists. Removed or renamed symbols disappear with the reset.
# Review the result with `git diff -- '*PublicAPI*'`; a line leaving the Unshipped file is an API change too.
#   scripts/update-public-api.sh            all tracked libraries
#   scripts/update-public-api.sh -c Debug   another configuration (default Release)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
configuration=Release
if [ "${1:-}" = "-c" ] && [ -n "${2:-}" ]; then
  configuration=$2
elif [ $# -gt 0 ]; then
  echo "usage: scripts/update-public-api.sh [-c CONFIGURATION]" >&2
  exit 2
fi

mapfile -t projects < <(find src -mindepth 2 -maxdepth 2 -name PublicAPI.Shipped.txt -printf '%h\n' | sort)
if [ ${#projects[@]} -eq 0 ]; then
  echo "no project under src/ has a PublicAPI.Shipped.txt" >&2
  exit 1
fi
for dir in "${projects[@]}"; do
  printf '#nullable enable\n' >"$dir/PublicAPI.Unshipped.txt"
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for dir in "${projects[@]}"; do
  dotnet build "$dir" -c "$configuration" -nologo -p:TreatWarningsAsErrors=false -clp:NoSummary >>"$log" 2>&1 || status=$?
done
if [ "$status" -ne 0 ]; then
  grep -E ': error ' "$log" | sort -u >&2 || true
  echo "update-public-api: the build failed for another reason than the API files; fix it and run again" >&2
  exit 1
fi

for dir in "${projects[@]}"; do
  project="$PWD/$dir/$(basename "$dir").csproj"
  shipped="$dir/PublicAPI.Shipped.txt"
  # "...: warning RS0016: Symbol 'ENTRY' is not part of the declared public API (...) [PROJECT]"
  grep -F "[$project]" "$log" | grep -F ' RS0016: ' \
    | sed -E "s/.* RS0016: Symbol '(.*)' is not part of the declared public API .*/\1/" \
    | LC_ALL=C sort -u \
    | { grep -vxF -f <(grep -v '^#' "$shipped") || true; } >>"$dir/PublicAPI.Unshipped.txt"
  echo "$dir: $(grep -vc '^#' "$dir/PublicAPI.Unshipped.txt") unshipped entries"
done
