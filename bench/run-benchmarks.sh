#!/usr/bin/env bash
# Runs every figure of docs/BENCHMARKS.md side by side in one session, on loopback only, and prints a table.
#   bench/run-benchmarks.sh                 # everything (about 10 minutes on 2 cores)
#   ONLY="a b" bench/run-benchmarks.sh      # some sections: a (throughput), b (memory), c (login under attack),
#                                           # d (brute force), e (kill -9 during brute force), f (gateway relay),
#                                           # g (wrong password: known user vs unknown user)
# Settings (environment): DURATION=15 WARMUP=20 CONNS=8 IDLE_COUNTS="2000 10000" BRUTE=10000 ATTACK_IDLE=10000 ATTACK_SLOW=500
#   RELAY_MIB=256 RELAY_ROUND_TRIPS=5000 RELAY_RUNS=5 RELAY_IDLE=1000 TIMING_COUNT=300 TIMING_ROUNDS=4
#   RDPNLA=/path/to/rdpnla   runs that build instead of building this checkout (to compare two builds side by side)
#   CLIENT=/path/to/rdpnla   the load generator's build (default: RDPNLA), so two servers face the same client
# Needs: .NET SDK, openssl, sqlite3, freerdp2-shadow-x11, winpr-utils, xvfb (scripts/install-peers.sh).
# Stops by itself: every step is bounded, a watchdog ends the whole run after WATCHDOG seconds, and an EXIT trap
# kills every process it started (by PID).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-15}
# (a) warms each TLS version up for WARMUP seconds before it measures: the runtime's tiered JIT keeps recompiling hot
# methods for tens of seconds after start, and that compilation is counted in the server's CPU per handshake.
WARMUP=${WARMUP:-20}
CONNS=${CONNS:-8}
IDLE_COUNTS=${IDLE_COUNTS:-"2000 10000"}
BRUTE=${BRUTE:-10000}
ATTACK_IDLE=${ATTACK_IDLE:-10000}
ATTACK_SLOW=${ATTACK_SLOW:-500}
LEGIT_LOGINS=${LEGIT_LOGINS:-20}
ONLY=${ONLY:-"a b c d e f g"}
TIMING_COUNT=${TIMING_COUNT:-300}
TIMING_ROUNDS=${TIMING_ROUNDS:-4}
RELAY_MIB=${RELAY_MIB:-256}
RELAY_ROUND_TRIPS=${RELAY_ROUND_TRIPS:-5000}
RELAY_RUNS=${RELAY_RUNS:-5}
RELAY_IDLE=${RELAY_IDLE:-1000}
WATCHDOG=${WATCHDOG:-2400}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
SHADOW_PORT=${SHADOW_PORT:-$(free_port)}
TLS_PORT=${TLS_PORT:-$(free_port)}
DISPLAY_NUM=${DISPLAY_NUM:-$(( 400 + RANDOM % 100 ))}
WORK=$(mktemp -d /tmp/rdpnla-bench.XXXXXX)
RESULTS=$WORK/results.txt
PIDS=()

log() { printf '\n== %s\n' "$*" >&2; }
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
# The watchdog's sleep is its own child: the TERM trap ends it too, so no process outlives the run holding its output
# open (a plain "( sleep ...) &" leaves the sleep running, and "run-benchmarks.sh | grep" waits for it).
watchdog() {
  sleep "$WATCHDOG" & local sleeper=$!
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  wait "$sleeper"
  echo "watchdog: $WATCHDOG s passed, stopping" >&2
  kill -TERM $$
}
watchdog </dev/null & WATCHDOG_PID=$!; PIDS+=("$WATCHDOG_PID")
ulimit -n "$(ulimit -Hn)" || true

if [ -z "${RDPNLA:-}" ]; then
  log "build (Release)"
  dotnet build "$ROOT/src/RdpNla.Cli" -c Release -v q -nologo 2>&1 | grep -E "error|Warn|Elapsed" >&2 || true
  RDPNLA=$ROOT/src/RdpNla.Cli/bin/Release/net10.0/rdpnla
fi
CLIENT=${CLIENT:-$RDPNLA}
[ -x "$RDPNLA" ] || { echo "build failed" >&2; exit 1; }
echo "work folder: $WORK  (rdpnla: $RDPNLA, load generator: $CLIENT)" >&2
echo "machine: $(nproc) cores, $(uname -r), $(openssl version), $(dotnet --version)" | tee -a "$RESULTS" >&2

wait_port() { # PORT: waits until something listens (up to 30 s)
  for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done
  echo "nothing listens on $1" >&2; return 1
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
threads() { awk '/Threads/ {print $2}' "/proc/$1/status"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }
record() { echo "$*" | tee -a "$RESULTS"; }

# A data folder with alice (the target of every bench) and bob (the bystander).
new_data() { # DIR
  mkdir -p "$1"
  printf 'Passw0rd!\n' | "$RDPNLA" users add alice --password-stdin --data "$1" >/dev/null
  printf 'B0b-s3cret!\n' | "$RDPNLA" users add bob --password-stdin --data "$1" >/dev/null
}
SERVE_PID=
start_serve() { # DATA CONFIG
  "$RDPNLA" serve --data "$1" --listen "127.0.0.1:$PORT" --config "$2" --log-level Warning >"$1/serve.log" 2>&1 &
  SERVE_PID=$!; PIDS+=("$SERVE_PID")
  wait_port "$PORT"
}
stop_serve() { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }

mkdir -p "$WORK/conf"
# (a) Throughput: defaults, except the per-address connection rate (the bench opens hundreds of connections per
# second from one address on purpose).
echo '{ "Limits": { "MaxConnectionRatePerAddress": 0 } }' >"$WORK/conf/throughput.json"
# (b) Memory: idle connections must stay, so the deadlines are long and the caps high.
echo '{ "Limits": { "NegotiationTimeout": "00:10:00", "HandshakeTimeout": "00:10:00", "MaxUnauthenticatedConnections": 30000, "RandomEarlyDropStart": 0, "MaxConnectionRatePerAddress": 0 } }' >"$WORK/conf/idle.json"
# (c) Attack: default deadlines (5 s to send the X.224 request, 240 B/s after 5 s); total cap above the attack; the
# legitimate client logs in continuously from 127.0.0.1, so no per-address rate limit.
echo '{ "Limits": { "MaxUnauthenticatedConnections": 20000, "RandomEarlyDropStart": 15000, "MaxConnectionRatePerAddress": 0 } }' >"$WORK/conf/attack.json"
# (d) Brute force: every limit at its default.
echo '{ }' >"$WORK/conf/defaults.json"

bench() { printf '%s\n' "$BENCH_PASSWORD" | "$CLIENT" bench "$@" --json; }

# ---------------------------------------------------------------------------------------------------------------------
if [[ " $ONLY " == *" a "* ]]; then
  log "(a) handshakes/s: rdpnla serve vs freerdp-shadow-cli vs openssl s_server"
  D=$WORK/a; new_data "$D"; start_serve "$D" "$WORK/conf/throughput.json"
  BENCH_PASSWORD='Passw0rd!'
  for tls in 1.3 1.2; do   # warm-up until the tiered JIT has settled (see WARMUP), not reported
    bench "127.0.0.1:$PORT" -u alice --password-stdin --connections "$CONNS" --duration "$WARMUP" --tls "$tls" >/dev/null
  done
  for tls in 1.3 1.2; do
    CMD="rdpnla bench 127.0.0.1:$PORT -u alice --password-stdin --connections $CONNS --duration $DURATION --tls $tls --json"
    c0=$(cpu_ms "$SERVE_PID")
    bench "127.0.0.1:$PORT" -u alice --password-stdin --connections "$CONNS" --duration "$DURATION" --tls "$tls" >"$D/rdpnla-$tls.json"
    c1=$(cpu_ms "$SERVE_PID")
    record "a rdpnla TLS$tls: $(json "$D/rdpnla-$tls.json" "'%.1f hs/s, p50 %.1f p90 %.1f p99 %.1f max %.1f ms, errors %s, server CPU %.2f ms per handshake' % (d['handshakes_per_second'], d['latency_ms']['p50'], d['latency_ms']['p90'], d['latency_ms']['p99'], d['latency_ms']['max'], d['errors'], ($c1 - $c0) / max(1, d['successes']))")  [$CMD]"
  done
  record "a rdpnla server RSS after the runs: $(rss_kib "$SERVE_PID") KiB, threads $(threads "$SERVE_PID")"
  stop_serve

  # The same certificate and key for openssl s_server.
  openssl s_server -quiet -accept "$TLS_PORT" -cert "$D/tls-cert.pem" -key "$D/tls-key.pem" -naccept 100000000 >/dev/null 2>&1 &
  TLS_PID=$!; PIDS+=("$TLS_PID"); wait_port "$TLS_PORT"
  for tls in 1.3 1.2; do
    flag=-tls1_3; [ "$tls" = 1.2 ] && flag=-tls1_2
    CMD="openssl s_time -connect 127.0.0.1:$TLS_PORT -new $flag -time $DURATION"
    c0=$(cpu_ms "$TLS_PID")
    openssl s_time -connect "127.0.0.1:$TLS_PORT" -new "$flag" -time "$DURATION" >"$D/stime-$tls.txt" 2>&1 || true
    c1=$(cpu_ms "$TLS_PID")
    rate=$(awk '/connections in .* real seconds/ {printf "%.1f", $1/$4}' "$D/stime-$tls.txt")
    n=$(awk '/connections in .* real seconds/ {print $1}' "$D/stime-$tls.txt")
    record "a openssl TLS$tls: $rate handshakes/s, server CPU $(python3 -c "print(f'{($c1 - $c0) / max(1, $n):.2f}')") ms per handshake ($(grep 'connections/user sec' "$D/stime-$tls.txt" | head -1))  [$CMD]"
    echo "$rate" >"$D/stime-$tls.rate"
  done
  kill "$TLS_PID" 2>/dev/null || true

  # FreeRDP's NLA server: shadow server under Xvfb, SAM file from winpr-hash.
  Xvfb ":$DISPLAY_NUM" -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 & XVFB_PID=$!; PIDS+=("$XVFB_PID"); sleep 1
  mkdir -p "$D/shadowhome"; winpr-hash -u alice -p 'Passw0rd!' -f sam >"$D/sam"
  for attempt in 1 2; do
    HOME=$D/shadowhome DISPLAY=:$DISPLAY_NUM freerdp-shadow-cli /bind-address:127.0.0.1 "/port:$SHADOW_PORT" /sec:nla "/sam-file:$D/sam" >"$D/shadow.log" 2>&1 &
    SHADOW_PID=$!; PIDS+=("$SHADOW_PID"); sleep 2
    kill -0 "$SHADOW_PID" 2>/dev/null && break
  done
  wait_port "$SHADOW_PORT" || { record "a freerdp-shadow-cli did not start: $(tail -2 "$D/shadow.log")"; echo '{"handshakes_per_second": 0}' >"$D/shadow-1.3.json"; }
  bench "127.0.0.1:$SHADOW_PORT" -u alice --password-stdin -c 2 --duration 3 >/dev/null || true
  CMD="rdpnla bench 127.0.0.1:$SHADOW_PORT -u alice --password-stdin --connections $CONNS --duration $DURATION --tls 1.3 --json"
  c0=$(cpu_ms "$SHADOW_PID" || echo 0)
  kill -0 "$SHADOW_PID" 2>/dev/null && bench "127.0.0.1:$SHADOW_PORT" -u alice --password-stdin --connections "$CONNS" --duration "$DURATION" --tls 1.3 >"$D/shadow-1.3.json"
  c1=$(cpu_ms "$SHADOW_PID" || echo 0)
  kill -0 "$SHADOW_PID" 2>/dev/null && record "a freerdp-shadow-cli TLS1.3: $(json "$D/shadow-1.3.json" "'%.1f hs/s, p50 %s p99 %s ms, errors %s, tls %s, server CPU %.2f ms per handshake' % (d['handshakes_per_second'], d['latency_ms'] and d['latency_ms']['p50'], d['latency_ms'] and d['latency_ms']['p99'], d['errors'], d['tls_versions'], ($c1 - $c0) / max(1, d['successes']))")  [$CMD]"
  kill "$SHADOW_PID" "$XVFB_PID" 2>/dev/null || true
  python3 - "$D" <<'EOF' | tee -a "$RESULTS"
import json, sys
d = sys.argv[1]
r13 = json.load(open(f"{d}/rdpnla-1.3.json"))["handshakes_per_second"]
r12 = json.load(open(f"{d}/rdpnla-1.2.json"))["handshakes_per_second"]
s13 = float(open(f"{d}/stime-1.3.rate").read() or 0)
s12 = float(open(f"{d}/stime-1.2.rate").read() or 0)
fr = json.load(open(f"{d}/shadow-1.3.json"))["handshakes_per_second"]
print(f"a ratio rdpnla/freerdp (TLS1.3): {r13 / fr if fr else float('inf'):.1f}x (goal >= 10x)")
print(f"a ratio rdpnla/openssl TLS1.3: {r13 / s13 if s13 else 0:.2f}x, TLS1.2: {r12 / s12 if s12 else 0:.2f}x (goal >= 0.7x)")
EOF
fi

# ---------------------------------------------------------------------------------------------------------------------
if [[ " $ONLY " == *" b "* ]]; then
  log "(b) server memory per idle unauthenticated connection"
  BENCH_PASSWORD='Passw0rd!'
  for n in $IDLE_COUNTS; do
    D=$WORK/b$n; new_data "$D"; start_serve "$D" "$WORK/conf/idle.json"
    bench "127.0.0.1:$PORT" -u alice --password-stdin -c 2 --duration 3 >/dev/null   # warm-up: the TLS and CredSSP code is loaded
    sleep 2; base=$(rss_kib "$SERVE_PID"); tbase=$(threads "$SERVE_PID")
    sources=$(( n / 10 ))
    CMD="rdpnla bench 127.0.0.1:$PORT --idle $n --sources $sources --duration 40 --json"
    "$RDPNLA" bench "127.0.0.1:$PORT" --idle "$n" --sources "$sources" --duration 40 --json >"$D/idle.json" 2>"$D/idle.err" &
    BPID=$!; PIDS+=("$BPID")
    for _ in $(seq 300); do grep -q "bench: holding" "$D/idle.err" && break; sleep 0.1; done
    sleep 10; held=$(rss_kib "$SERVE_PID"); theld=$(threads "$SERVE_PID")
    wait "$BPID" || true
    peak=$(json "$D/idle.json" "d['idle']['peak_held']"); closed=$(json "$D/idle.json" "d['idle']['closed_by_server']")
    record "b idle $n: server RSS $base -> $held KiB, $(( (held - base) * 1024 / n )) bytes per connection ($(( (held - base) / n )) KiB), threads $tbase -> $theld, peak held $peak, closed by server $closed  [$CMD]"
    stop_serve
  done
fi

# ---------------------------------------------------------------------------------------------------------------------
if [[ " $ONLY " == *" c "* ]]; then
  log "(c) a legitimate login with and without $ATTACK_IDLE idle + $ATTACK_SLOW slowloris connections"
  D=$WORK/c; new_data "$D"; start_serve "$D" "$WORK/conf/attack.json"
  BENCH_PASSWORD='B0b-s3cret!'
  bench "127.0.0.1:$PORT" -u bob --password-stdin -c 1 --duration 3 >/dev/null
  logins() { # LABEL: LEGIT_LOGINS separate `rdpnla login` processes, then an in-process sequential bench
    ok=0; : >"$D/login-$1.ms"
    for _ in $(seq "$LEGIT_LOGINS"); do
      if printf 'B0b-s3cret!\n' | "$RDPNLA" login "127.0.0.1:$PORT" -u bob --password-stdin --cert-ignore --json >"$D/login.json" 2>/dev/null; then ok=$((ok + 1)); fi
      json "$D/login.json" "d['elapsed_ms']" >>"$D/login-$1.ms"
    done
    bench "127.0.0.1:$PORT" -u bob --password-stdin -c 1 --duration 20 >"$D/legit-$1.json"
    python3 - "$D" "$1" "$ok" <<'EOF' | tee -a "$RESULTS"
import json, math, sys
d, label, ok = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = sorted(float(x) for x in open(f"{d}/login-{label}.ms") if x.strip())
rank = lambda p: ms[max(0, math.ceil(p * len(ms)) - 1)]
b = json.load(open(f"{d}/legit-{label}.json"))
print(f"c {label}: rdpnla login {ok}/{len(ms)} succeeded, elapsed p50 {rank(0.5):.1f} ms p99 {rank(0.99):.1f} ms; "
      f"sequential bench (-c 1, 20 s): {b['successes']}/{b['attempts']} succeeded, p50 {b['latency_ms']['p50']} ms p90 {b['latency_ms']['p90']} ms p99 {b['latency_ms']['p99']} ms, errors {b['errors']}")
EOF
  }
  logins unloaded
  CMD="rdpnla bench 127.0.0.1:$PORT --idle $ATTACK_IDLE --slowloris $ATTACK_SLOW --sources 1000 --duration 150 --json"
  "$RDPNLA" bench "127.0.0.1:$PORT" --idle "$ATTACK_IDLE" --slowloris "$ATTACK_SLOW" --sources 1000 --duration 150 --json >"$D/attack.json" 2>"$D/attack.err" &
  APID=$!; PIDS+=("$APID")
  for _ in $(seq 600); do grep -q "bench: holding" "$D/attack.err" && break; sleep 0.1; done
  record "c attack: $(grep -c . "$D/attack.err") lines; server RSS $(rss_kib "$SERVE_PID") KiB, threads $(threads "$SERVE_PID")  [$CMD]"
  sleep 5
  logins attacked
  record "c server during the attack: RSS $(rss_kib "$SERVE_PID") KiB, threads $(threads "$SERVE_PID"), open fds $(ls "/proc/$SERVE_PID/fd" | wc -l)"
  wait "$APID" || true
  record "c attack result: idle $(json "$D/attack.json" "d['idle']"), slowloris $(json "$D/attack.json" "d['slowloris']")"
  stop_serve
fi

# ---------------------------------------------------------------------------------------------------------------------
audit_count() { sqlite3 "$1/rdpnla.db" "SELECT count(*) FROM audit WHERE user_name = '$2' AND outcome = '$3';"; }
if [[ " $ONLY " == *" d "* ]]; then
  log "(d) $BRUTE wrong passwords spread over $BRUTE addresses, then $BRUTE from one address"
  D=$WORK/d; new_data "$D"; start_serve "$D" "$WORK/conf/defaults.json"
  BENCH_PASSWORD='wrong-password'
  CMD="rdpnla bench 127.0.0.1:$PORT -u alice --password-stdin --connections 8 --count $BRUTE --sources $BRUTE --duration 600 --json"
  bench "127.0.0.1:$PORT" -u alice --password-stdin --connections 8 --count "$BRUTE" --sources "$BRUTE" --duration 600 >"$D/spread.json"
  sleep 1; a1=$(audit_count "$D" alice failure)
  record "d spread: $(json "$D/spread.json" "'%d attempts, %d successes, errors %s, %.0f attempts/s' % (d['attempts'], d['successes'], d['errors'], d['attempts_per_second'])"); audit failure rows for alice: $a1 (logon_refused seen by the client: $(json "$D/spread.json" "d['errors'].get('logon_refused', 0)"))  [$CMD]"
  CMD="rdpnla bench 127.0.0.1:$PORT -u alice --password-stdin --connections 8 --count $BRUTE --sources 1 --duration 600 --json"
  bench "127.0.0.1:$PORT" -u alice --password-stdin --connections 8 --count "$BRUTE" --sources 1 --duration 600 >"$D/single.json"
  sleep 1; a2=$(audit_count "$D" alice failure)
  record "d one address (127.1.1.1): $(json "$D/single.json" "'%d attempts, %d successes, errors %s' % (d['attempts'], d['successes'], d['errors'])"); new audit failure rows: $(( a2 - a1 )) (logon_refused seen by the client: $(json "$D/single.json" "d['errors'].get('logon_refused', 0)"))  [$CMD]"
  record "d audit: successes for alice $(audit_count "$D" alice success); rows by status: $(sqlite3 "$D/rdpnla.db" "SELECT group_concat(n || ' ' || s, ', ') FROM (SELECT nt_status_name s, count(*) n FROM audit WHERE user_name = 'alice' GROUP BY 1);")"
  record "d server log: $(grep -c 'is refused until' "$D/serve.log") 'Source ... is refused until' lines (rate-limited), last: $(grep 'is refused until' "$D/serve.log" | tail -1 | sed 's/.*Source/Source/' | cut -c1-160)"
  record "d server log: refusals at accept: $(grep 'refused before the handshake' "$D/serve.log" | sed -E 's/.*handshake: ([^(]*).*/\1/' | sort | uniq -c | tr '\n' ';')"
  if printf 'B0b-s3cret!\n' | "$RDPNLA" login "127.0.0.1:$PORT" -u bob --password-stdin --cert-ignore --json >"$D/bob.json"; then
    record "d bob's login afterwards: $(json "$D/bob.json" "d['result'] + ', ' + str(d['elapsed_ms']) + ' ms'")"
  else
    record "d bob's login afterwards FAILED: $(cat "$D/bob.json")"
  fi
  stop_serve
fi

# ---------------------------------------------------------------------------------------------------------------------
if [[ " $ONLY " == *" e "* ]]; then
  log "(e) kill -9 of the server during a brute-force run"
  D=$WORK/e; new_data "$D"; start_serve "$D" "$WORK/conf/throughput.json"
  BENCH_PASSWORD='wrong-password'
  CMD="rdpnla bench 127.0.0.1:$PORT -u alice --password-stdin --connections 8 --sources 20000 --duration 12 --timeout 2 --json  (kill -9 of the server after 6 s)"
  bench "127.0.0.1:$PORT" -u alice --password-stdin --connections 8 --sources 20000 --duration 12 --timeout 2 >"$D/brute.json" &
  BPID=$!; PIDS+=("$BPID")
  sleep 6; kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
  wait "$BPID" || true
  acked=$(json "$D/brute.json" "d['errors'].get('logon_refused', 0)")
  rows=$(audit_count "$D" alice failure)
  integrity=$(sqlite3 "$D/rdpnla.db" "PRAGMA integrity_check;")
  record "e brute force killed: $(json "$D/brute.json" "'%d attempts, %d successes, errors %s' % (d['attempts'], d['successes'], d['errors'])")  [$CMD]"
  record "e failures acknowledged to the client: $acked; audit failure rows after the kill: $rows ($([ "$rows" -ge "$acked" ] && echo "none lost" || echo "LOST $((acked - rows))")); PRAGMA integrity_check: $integrity"
  start_serve "$D" "$WORK/conf/throughput.json"
  if printf 'B0b-s3cret!\n' | "$RDPNLA" login "127.0.0.1:$PORT" -u bob --password-stdin --cert-ignore --json >"$D/bob.json"; then
    record "e after restart: the server starts and serves; bob's login $(json "$D/bob.json" "d['result']")"
  else
    record "e after restart: bob's login FAILED: $(cat "$D/bob.json")"
  fi
  stop_serve
fi

# ---------------------------------------------------------------------------------------------------------------------
# (f) Gateway relay: the same client and TLS backend (bench/RdpNla.GatewayBench) directly and through `rdpnla serve`,
# alternating in one process. Two placements: "shared", every process on every core; "pinned", the gateway on CPU 1
# and the client and backend together on CPU 0 in both the direct and the gateway runs - the gateway on a machine of
# its own, as deployed, with the endpoints equally constrained in both columns.
if [[ " $ONLY " == *" f "* ]]; then
  log "(f) gateway relay: direct vs through rdpnla serve"
  dotnet build "$ROOT/bench/RdpNla.GatewayBench" -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" >&2 || true
  GWBENCH=$ROOT/bench/RdpNla.GatewayBench/bin/Release/net10.0/RdpNla.GatewayBench
  for placement in shared pinned; do
    if [ "$placement" = pinned ] && [ "$(nproc)" -lt 2 ]; then record "f pinned: skipped, $(nproc) CPU"; continue; fi
    D=$WORK/f-$placement; mkdir -p "$D"
    printf 'Bench-Pass1\n' | "$RDPNLA" users add bench --password-stdin --data "$D" >/dev/null
    BACKEND_PORT=$(free_port)
    "$RDPNLA" backends set-security "127.0.0.1:$BACKEND_PORT" tls --data "$D" >/dev/null # the bench backend is TLS-only
    echo "{ \"Limits\": { \"MaxConnectionRatePerAddress\": 0 }, \"Gateway\": { \"DefaultBackend\": \"127.0.0.1:$BACKEND_PORT\", \"IdleTimeout\": \"00:00:00\" } }" >"$D/gateway.json"
    GW_CPU=(); ENDPOINT_CPU=()
    if [ "$placement" = pinned ]; then GW_CPU=(taskset -c 1); ENDPOINT_CPU=(taskset -c 0); fi
    "${GW_CPU[@]}" "$RDPNLA" serve --data "$D" --listen "127.0.0.1:$PORT" --config "$D/gateway.json" --domain BENCH --computer-name BENCH --log-level Warning >"$D/serve.log" 2>&1 &
    SERVE_PID=$!; PIDS+=("$SERVE_PID"); wait_port "$PORT"
    CMD="${ENDPOINT_CPU[*]:+${ENDPOINT_CPU[*]} }RdpNla.GatewayBench $PORT $BACKEND_PORT $RELAY_MIB $RELAY_ROUND_TRIPS $RELAY_RUNS \$SERVE_PID $RELAY_IDLE  with  ${GW_CPU[*]:+${GW_CPU[*]} }rdpnla serve --config gateway.json"
    timeout 900 "${ENDPOINT_CPU[@]}" "$GWBENCH" "$PORT" "$BACKEND_PORT" "$RELAY_MIB" "$RELAY_ROUND_TRIPS" "$RELAY_RUNS" "$SERVE_PID" "$RELAY_IDLE" | tee "$D/relay.txt" >&2
    stop_serve
    while read -r line; do record "f $placement: $line"; done < <(grep -E '^(median of runs|idle sessions)' "$D/relay.txt")
    record "f $placement: [$CMD]"
  done
fi

# ---------------------------------------------------------------------------------------------------------------------
if [[ " $ONLY " == *" g "* ]]; then
  # (g) A wrong password for a known user and for a name that matches no user must cost the server the same work
  # before the reply (the same store writes), so that response timing does not tell which accounts exist. Lockout and
  # penalties off, so every attempt of both runs is a full password check; one worker, so the latency is the server's;
  # the two users alternate (and alternate who goes first), round after round, on the same server.
  log "(g) wrong password: known user (alice) vs unknown user (nobody)"
  D=$WORK/g; new_data "$D"
  echo '{ "LockoutThreshold": 0, "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }' >"$WORK/conf/timing.json"
  start_serve "$D" "$WORK/conf/timing.json"
  BENCH_PASSWORD='not-the-password'
  bench "127.0.0.1:$PORT" -u alice --password-stdin -c 1 --duration 3 >/dev/null   # warm-up (JIT), not reported
  for round in $(seq "$TIMING_ROUNDS"); do
    order="alice nobody"; [ $((round % 2)) -eq 0 ] && order="nobody alice"   # alternate who goes first
    for user in $order; do
      CMD="rdpnla bench 127.0.0.1:$PORT -u $user --password-stdin --connections 1 --count $TIMING_COUNT --duration 300 --json"
      bench "127.0.0.1:$PORT" -u "$user" --password-stdin --connections 1 --count "$TIMING_COUNT" --duration 300 >"$D/$user-$round.json"
      record "g round $round $user: $(json "$D/$user-$round.json" "'%.1f attempts/s, p50 %.2f p90 %.2f p99 %.2f ms, successes %s' % (d['attempts_per_second'], d['latency_all_ms']['p50'], d['latency_all_ms']['p90'], d['latency_all_ms']['p99'], d['successes'])")  [$CMD]"
    done
    record "g round $round: p50 nobody / alice = $(python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(f\"{b['latency_all_ms']['p50'] / a['latency_all_ms']['p50']:.3f}\")" "$D/alice-$round.json" "$D/nobody-$round.json")"
  done
  stop_serve
fi

log "results"
cat "$RESULTS"
echo "results: $RESULTS (copy the figures into docs/BENCHMARKS.md with their command)" >&2
