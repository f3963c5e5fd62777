#!/usr/bin/env bash
# Correct logons of one user refused under concurrency: `rdpnla serve` with LockoutAdmissionWait 0 (an attempt that
# finds the last places under LockoutThreshold held by attempts in progress is refused at once, the behaviour before
# the admission wait) against the default (it waits), on SQLite and on PostgreSQL 15, CONNS closed-loop workers of
# alice with her right password, alternating the order each run. Prints each run's bench figures, the audit rows by
# status, and the waits the servers logged (Debug line "waited N ms for attempts in progress"). docs/BENCHMARKS.md (j).
#   RUNS=2 DURATION=15 bench/run-lockout-wait-benchmark.sh
# Needs: .NET SDK, sqlite3, postgresql 15 under /usr/lib/postgresql/15/bin, run as root (PostgreSQL runs as postgres).
# Every process it starts is stopped by PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$ROOT/src/RdpNla.Cli" -c Release -v q -nologo >/dev/null
CLI=(dotnet "$ROOT/src/RdpNla.Cli/bin/Release/net10.0/rdpnla.dll")
RUNS=${RUNS:-3}; DURATION=${DURATION:-15}; CONNS=${CONNS:-8}
WORK=$(mktemp -d /tmp/rdpnla-lockout-wait.XXXXXX)
# shellcheck source=bench/scratch-postgres.sh
. "$ROOT/bench/scratch-postgres.sh"
start_scratch_postgres
declare -A STOREARG
for v in nowait wait pgnowait pgwait; do
  mkdir -p "$WORK/$v"
  STOREARG[$v]=""
  case $v in pg*) as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U rdpnla "$v"; STOREARG[$v]="Host=127.0.0.1;Port=$PGPORT;Username=rdpnla;Database=$v";; esac
  if [ -n "${STOREARG[$v]}" ]; then printf 'Passw0rd!\n' | "${CLI[@]}" users add alice --password-stdin --store "${STOREARG[$v]}" >/dev/null
  else printf 'Passw0rd!\n' | "${CLI[@]}" users add alice --password-stdin --data "$WORK/$v" >/dev/null; fi
done
echo '{ "Limits": { "MaxConnectionRatePerAddress": 0 }, "LockoutAdmissionWait": "00:00:00" }' > "$WORK/nowait.json"
echo '{ "Limits": { "MaxConnectionRatePerAddress": 0 } }' > "$WORK/wait.json"
cp "$WORK/nowait.json" "$WORK/pgnowait.json"; cp "$WORK/wait.json" "$WORK/pgwait.json"
VARIANTS=${VARIANTS:-nowait wait pgnowait pgwait}
declare -A PORT
for v in $VARIANTS; do
  PORT[$v]=$(free_port)
  extra=(); [ -n "${STOREARG[$v]}" ] && extra=(--store "${STOREARG[$v]}")
  "${CLI[@]}" serve --data "$WORK/$v" --config "$WORK/$v.json" --listen "127.0.0.1:${PORT[$v]}" --log-level Debug "${extra[@]}" > "$WORK/$v.log" 2>&1 &
  PIDS+=($!)
done
for v in $VARIANTS; do for _ in $(seq 1 120); do python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', ${PORT[$v]})))" && break; sleep 1; done; done
for run in $(seq 1 "$RUNS"); do
  order="$VARIANTS"; [ $((run % 2)) -eq 0 ] && order=$(echo $VARIANTS | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $order; do
    printf 'Passw0rd!\n' | "${CLI[@]}" bench "127.0.0.1:${PORT[$v]}" -u alice --password-stdin --connections "$CONNS" --duration "$DURATION" --json > "$WORK/$v-$run.json" || true
    python3 - "$WORK/$v-$run.json" "$v" "$run" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
print(sys.argv[3], sys.argv[2], json.dumps({k:v for k,v in d.items() if not isinstance(v,(list,dict)) or k in ("failures","outcomes","latency_ms","latency_all_ms")}))
PY
  done
done
for v in $VARIANTS; do
  echo "== $v audit by status"
  if [ -n "${STOREARG[$v]}" ]; then as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U rdpnla -d "$v" -Atc "select nt_status_name, count(*) from audit group by 1" || true
  else sqlite3 "$WORK/$v/rdpnla.db" "select nt_status_name, count(*) from audit group by 1"; fi
  echo "== $v waited lines"; grep -c "LockoutAdmissionWait" "$WORK/$v.log" || true
  grep -o "waited [0-9]* ms for attempts in progress (LockoutAdmissionWait): [A-Za-z]*" "$WORK/$v.log" > "$WORK/$v-waits.txt" || true
done
for v in wait pgwait; do [ -f "$WORK/$v-waits.txt" ] || continue; echo "== $v"; python3 - "$WORK/$v-waits.txt" <<'PY'
import sys,re,statistics
ms=[int(re.search(r'waited (\d+) ms',l).group(1)) for l in open(sys.argv[1])]
adm=[l.split(': ')[-1].strip() for l in open(sys.argv[1])]
if ms:
    ms.sort()
    q=lambda p: ms[min(len(ms)-1,int(p*len(ms)))]
    print(f"waited attempts: {len(ms)}; outcomes {dict((a,adm.count(a)) for a in set(adm))}; wait ms p50 {q(0.5)} p90 {q(0.9)} p99 {q(0.99)} max {ms[-1]}")
PY
done
