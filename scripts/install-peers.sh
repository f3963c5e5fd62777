#!/usr/bin/env bash
# Installs the real RDP peers the interop tests run against (Debian 12 packages), when they are missing.
# FreeRDP 2.11 client and NLA server, winpr-hash for SAM files, Xvfb for the X display xfreerdp needs,
# xrdp + xorgxrdp (a TLS server without NLA, and the gateway's TLS backend; tests start their own instances with
# copied configs, never the system service), ssl-cert for the snakeoil certificate xrdp uses by default, and
# x11-utils for the xmessage the gateway test's xrdp session shows, postgresql (initdb, pg_ctl and the server the
# shared-store tests start in a temp folder) and haproxy (the load balancer in front of two instances in those tests).
set -euo pipefail
packages=(freerdp2-x11 freerdp2-shadow-x11 winpr-utils xvfb xrdp xorgxrdp ssl-cert x11-utils postgresql haproxy)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "installing: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
