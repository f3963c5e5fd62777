#!/usr/bin/env bash
# Installs the real RDP peers the interop tests run against (Debian 12 packages), when they are missing.
# FreeRDP 2.11 client and NLA server, winpr-hash for SAM files, Xvfb for the X display xfreerdp needs,
# xrdp + xorgxrdp (a TLS server without NLA, and the gateway's TLS backend; tests start their own instances with
# copied configs, never the system service), ssl-cert for the snakeoil certificate xrdp uses by default, and
# x11-utils for the xmessage the gateway test's xrdp session shows; systemd (systemd-analyze verify of
# deploy/rdpnla.service, not as PID 1), procps (/bin/kill of its ExecReload) and unzip for scripts/package-smoke.sh;
# chromium + chromium-driver (same Debian version) for the portal's headless browser tests through Selenium
# (docs/portal.md). Kerberos: a Samba AD domain controller the tests provision and start on loopback (samba, its
# provisioning data and VFS modules, ldb-tools for ldbmodify, winbind), MIT krb5 clients (kinit, kvno, klist), the
# GSSAPI library the product loads, python3-gssapi as an independent SPNEGO/Kerberos initiator, python3-impacket (an
# independent Kerberos implementation) to build tickets MIT will not present (an expired one), and faketime to run
# that initiator with a skewed clock. Domain logons:
# libwbclient0, the winbind client library the product loads. postgresql (initdb, pg_ctl and the server the
# shared-store tests start in a temp folder) and haproxy (the load balancer in front of two instances in those tests).
# strace counts the disk syncs of a logon with the SQLite store.
set -euo pipefail
packages=(freerdp2-x11 freerdp2-shadow-x11 winpr-utils xvfb xrdp xorgxrdp ssl-cert x11-utils systemd procps unzip chromium chromium-driver
  samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools winbind krb5-user krb5-kdc libgssapi-krb5-2 python3-gssapi python3-impacket faketime
  libwbclient0 postgresql haproxy strace)
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
