# Sourced by the bench scripts after they set WORK (a fresh directory): the processes they start (PIDS, stopped by PID
# on exit with WORK removed), a free loopback port, and a scratch PostgreSQL 15 cluster in $WORK/pg on $PGPORT
# (start_scratch_postgres; as root it runs as the postgres user).
PGBIN=/usr/lib/postgresql/15/bin
PIDS=()
PGPID=
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  [ -n "$PGPID" ] && kill -INT "$PGPID" 2>/dev/null || true
  sleep 1
  rm -rf "$WORK"
}
trap cleanup EXIT
start_scratch_postgres() {
  [ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
  PGPORT=$(free_port)
  as_pg "$PGBIN/initdb" -D "$WORK/pg" -U rdpnla -A trust -E UTF8 --locale=C --no-sync >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
  PGPID=$(head -1 "$WORK/pg/postmaster.pid")
}
