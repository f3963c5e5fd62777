#!/usr/bin/env bash
# Packaging checks (docs/deploy.md), run by scripts/test.sh after the Release build. Prints one line per check,
# "ok - NAME" or "not ok - NAME", and exits non-zero when one fails:
#   1. dotnet pack makes the rdpnla tool and the RdpNla.Protocol / RdpNla.Transport / RdpNla.Client packages (README,
#      XML docs, public API files);
#      the tool installs from that folder into a fresh tool path, and `rdpnla --version` and `rdpnla serve` run.
#   2. systemd-analyze verify accepts deploy/rdpnla.service, with the installed tool at the unit's ExecStart path.
# Everything goes to a temporary folder, never into the repository.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "package smoke: $*" >&2; return 1; }

tool_check() {
  local pkgs="$work/pkgs" tool="$work/root/opt/rdpnla"
  dotnet pack RdpNla.slnx -c Release --no-build -nologo -o "$pkgs" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; fail "dotnet pack failed"; return 1; }
  local package
  for package in rdpnla RdpNla.Protocol RdpNla.Transport RdpNla.Client; do
    ls "$pkgs/$package".*.nupkg >/dev/null 2>&1 || { fail "no $package package"; return 1; }
  done
  for package in RdpNla.Protocol RdpNla.Transport RdpNla.Client; do
    local listing
    listing=$(unzip -l "$pkgs/$package".*.nupkg)
    grep -q " README.md$" <<<"$listing" && grep -q "lib/net10.0/$package.xml$" <<<"$listing" \
      || { fail "$package lacks its README or XML documentation"; return 1; }
    grep -q " PublicAPI.Shipped.txt$" <<<"$listing" && grep -q " PublicAPI.Unshipped.txt$" <<<"$listing" \
      || { fail "$package lacks its public API files (docs/architecture.md)"; return 1; }
  done
  # A private package cache: an earlier install of the same version must not be reused.
  NUGET_PACKAGES="$work/nuget" dotnet tool install --tool-path "$tool" --add-source "$pkgs" rdpnla >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "dotnet tool install failed"; return 1; }
  local version
  version=$("$tool/rdpnla" --version) || { fail "rdpnla --version failed"; return 1; }
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { fail "rdpnla --version printed '$version'"; return 1; }
  "$tool/rdpnla" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/serve.log" 2>&1 &
  local pid=$! i
  for i in $(seq 1 300); do
    grep -q "Listening on 127.0.0.1:" "$work/serve.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local port
  port=$(grep -oE "Listening on 127\.0\.0\.1:[0-9]+" "$work/serve.log" | grep -oE "[0-9]+$")
  if [ -z "$port" ] || ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    cat "$work/serve.log" >&2
    fail "rdpnla serve from the installed tool did not listen"
    return 1
  fi
  kill -TERM "$pid"
  wait "$pid" || { cat "$work/serve.log" >&2; fail "rdpnla serve did not exit with 0 after SIGTERM"; return 1; }
  echo "package smoke: rdpnla $version installed from the packed folder; serve listened on port $port and drained"
}

unit_check() {
  # verify checks that ExecStart is executable: an image root with the installed tool at /opt/rdpnla, kill for
  # ExecReload, and the host's unit files for the targets the unit refers to.
  local root="$work/root"
  [ -x "$root/opt/rdpnla/rdpnla" ] || { fail "no installed tool for the unit check"; return 1; }
  mkdir -p "$root/etc/systemd/system" "$root/bin" "$root/usr/lib/systemd"
  cp deploy/rdpnla.service "$root/etc/systemd/system/"
  cp /bin/kill "$root/bin/"
  cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
  local out
  out=$(systemd-analyze verify --root="$root" rdpnla.service 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify failed"; return 1; }
  # Unknown or misspelled directives are only warnings for verify: any output fails the check.
  [ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify warned"; return 1; }
}

for check in tool_check unit_check; do
  name=${check%_check}
  if "$check"; then echo "ok - package $name"; else echo "not ok - package $name"; failures=$((failures + 1)); fi
done
[ "$failures" -eq 0 ]
