#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for tests and print the URL to use.
#
#   eval "$(.ci/start-postgres.sh)"      # sets TEST_DATABASE_URL
#   .ci/start-postgres.sh --stop         # stops the cluster and removes its directory
#
# Installs nothing: CI (or you) runs `apt-get install -y postgresql` first. The cluster lives in
# $SELFSUP_PG_DIR (default /tmp/selfsup-pg), trusts local connections for user `dev`, listens on
# 127.0.0.1 only, on a free port, with durability switched off (it is a test database). Running the
# script again while the cluster is up just prints the same URL again. Everything except the final
# `export` line goes to stderr so that `eval` sees only that line.
set -euo pipefail

DIR="${SELFSUP_PG_DIR:-/tmp/selfsup-pg}"
DB="${SELFSUP_PG_DB:-selfsup_test}"
USER_NAME=dev
log() { echo "start-postgres: $*" >&2; }

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  log "no PostgreSQL found under /usr/lib/postgresql/*/bin; install it: apt-get update && apt-get install -y postgresql"
  exit 1
fi

# Run a command as the cluster owner: initdb and postgres refuse to run as root.
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$DIR/data/PG_VERSION" ]; then
    as_owner "'$PGBIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >&2 || true
  fi
  rm -rf "$DIR"
  log "stopped and removed $DIR"
  exit 0
fi

print_url() {
  echo "export TEST_DATABASE_URL=postgres://$USER_NAME@127.0.0.1:$1/$DB"
}

# Already running? Reuse it.
if [ -f "$DIR/port" ] && [ -f "$DIR/data/postmaster.pid" ] \
  && as_owner "'$PGBIN/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; then
  PORT="$(cat "$DIR/port")"
  log "cluster already running in $DIR on port $PORT"
  print_url "$PORT"
  exit 0
fi

# Fresh cluster (a stale directory from a crashed run is thrown away).
rm -rf "$DIR"
mkdir -p "$DIR"
if [ "$(id -u)" = "0" ]; then chown postgres: "$DIR"; fi
as_owner "'$PGBIN/initdb' -D '$DIR/data' -U $USER_NAME --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >"$DIR.initdb.log" 2>&1 \
  || { cat "$DIR.initdb.log" >&2; exit 1; }
rm -f "$DIR.initdb.log"

free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
  else
    local p
    for p in $(seq 54329 54429); do
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
  fi
}
PORT="${SELFSUP_PG_PORT:-$(free_port)}"

OPTS="-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
as_owner "'$PGBIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -o '$OPTS' -w start" >&2 \
  || { cat "$DIR/server.log" >&2; exit 1; }
echo "$PORT" >"$DIR/port"

if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
fi
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running in $DIR on 127.0.0.1:$PORT, database $DB"
print_url "$PORT"
