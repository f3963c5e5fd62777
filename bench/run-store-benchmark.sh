#!/usr/bin/env bash
# Handshakes/s of `rdpnla serve` with the SQLite store and with a PostgreSQL 15 store, side by side (alternating runs
# in one session), and the PostgreSQL transactions per successful handshake (pg_stat_database, xact_commit +
# xact_rollback); then, with log_statement = all, a bounded run whose statements are counted in the server log to
# give the database round trips per successful handshake. docs/BENCHMARKS.md, section (i).
#   bench/run-store-benchmark.sh            # DURATION=10 CONNS=8 RUNS=2 (RUNS=0: the round-trip count only)
#   STORE_EXTRA=";Max Auto Prepare=0" bench/run-store-benchmark.sh   # appended to the store's connection string
# Needs: .NET SDK, postgresql (initdb, pg_ctl under /usr/lib/postgresql/15/bin), run as root (PostgreSQL runs as the
# postgres user) or as a user that may run initdb itself. Every process it starts is stopped by PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
RUNS=${RUNS:-2}
WORK=$(mktemp -d /tmp/rdpnla-store-bench.XXXXXX)
# shellcheck source=bench/scratch-postgres.sh
. "$ROOT/bench/scratch-postgres.sh"

dotnet build "$ROOT/src/RdpNla.Cli" -c Release -v q -nologo >/dev/null
CLI=(dotnet "$ROOT/src/RdpNla.Cli/bin/Release/net10.0/rdpnla.dll")

start_scratch_postgres
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U rdpnla rdpnla
STORE="Host=127.0.0.1;Port=$PGPORT;Username=rdpnla;Database=rdpnla${STORE_EXTRA:-}"
psql_value() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U rdpnla -d rdpnla -Atc "$1"; }

mkdir -p "$WORK/sqlite" "$WORK/pgdata"
printf 'Passw0rd!\n' | "${CLI[@]}" users add alice --password-stdin --data "$WORK/sqlite" >/dev/null
printf 'Passw0rd!\n' | "${CLI[@]}" users add alice --password-stdin --store "$STORE" >/dev/null
echo '{ "Limits": { "MaxConnectionRatePerAddress": 0 } }' > "$WORK/serve.json"
SQLITE_PORT=$(free_port); PG_PORT=$(free_port)
"${CLI[@]}" serve --data "$WORK/sqlite" --config "$WORK/serve.json" --listen "127.0.0.1:$SQLITE_PORT" --log-level Warning &
PIDS+=($!)
"${CLI[@]}" serve --data "$WORK/pgdata" --config "$WORK/serve.json" --listen "127.0.0.1:$PG_PORT" --store "$STORE" --log-level Warning &
PIDS+=($!)
# Wait until both listen (a loaded machine takes longer than a fixed sleep to start two .NET processes).
for port in "$SQLITE_PORT" "$PG_PORT"; do
  for _ in $(seq 1 120); do
    python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))" && break
    sleep 1
  done
done

bench() { printf 'Passw0rd!\n' | "${CLI[@]}" bench "127.0.0.1:$1" -u alice --password-stdin --connections "$CONNS" --duration "$DURATION" --tls 1.3 --json; }
rate() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("handshakes_per_second") or d.get("rate") or d)'; }
xacts() { psql_value "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'rdpnla';"; }
successes() { psql_value "SELECT count(*) FROM audit WHERE outcome = 'success';"; }
# CPU (ms) of the PostgreSQL server: the postmaster and its children (the backends serving rdpnla).
pg_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{s += $14 + $15} END {printf "%d", s * 1000 / hz}' $(for p in "$PGPID" $(pgrep -P "$PGPID"); do echo "/proc/$p/stat"; done) 2>/dev/null; }

for run in $(seq 1 "$RUNS"); do
  s=$(bench "$SQLITE_PORT" | tee "$WORK/sqlite-$run.json" | rate)
  x0=$(xacts); n0=$(successes); c0=$(pg_cpu_ms)
  p=$(bench "$PG_PORT" | tee "$WORK/pg-$run.json" | rate)
  c1=$(pg_cpu_ms)
  sleep 2
  x1=$(xacts); n1=$(successes)
  python3 -c "s=float('$s'); p=float('$p'); d=($x1-$x0); n=($n1-$n0); print(f'run $run: sqlite {s:.1f}/s  postgresql {p:.1f}/s  ratio {p/s:.2f}  postgresql transactions per successful handshake {d/max(n,1):.2f} ({d} for {n}, including the counting queries)  postgresql server CPU {($c1-$c0)/max(n,1):.2f} ms per successful handshake')"
done

# Round trips: every statement the server logs is one Sync of the extended protocol, except BEGIN, which Npgsql sends
# in the same packet as the transaction's first statement (and DISCARD ALL, which it would prepend to the next one).
psql_value "ALTER SYSTEM SET log_statement = 'all'; " >/dev/null 2>&1 || true
psql_value "SELECT pg_reload_conf();" >/dev/null
sleep 1
lines0=$(wc -l < "$WORK/pg.log"); n0=$(successes)
printf 'Passw0rd!\n' | "${CLI[@]}" bench "127.0.0.1:$PG_PORT" -u alice --password-stdin --connections 4 --count 300 --duration 120 --tls 1.3 --json > "$WORK/pg-count.json"
sleep 1
n1=$(successes)
statements=$(tail -n +"$((lines0 + 1))" "$WORK/pg.log" | grep -E 'LOG:  (statement|execute [^:]*):' | grep -v 'application_name' | grep -vE ':\s*(BEGIN|DISCARD ALL|SELECT count\(\*\) FROM audit)' | grep -c . || true)
begins=$(tail -n +"$((lines0 + 1))" "$WORK/pg.log" | grep -E 'LOG:  (statement|execute [^:]*):\s*BEGIN' | grep -c . || true)
python3 -c "n=$n1-$n0; print(f'round trips per successful handshake: {$statements/max(n,1):.2f} ({$statements} statements besides {$begins} BEGIN for {n} successful handshakes)')"
tail -n +"$((lines0 + 1))" "$WORK/pg.log" | grep -E 'LOG:  (statement|execute [^:]*):' | sed -E 's/.*LOG:  (statement|execute [^:]*): *//' | cut -c1-60 | sort | uniq -c | sort -rn | head -8
