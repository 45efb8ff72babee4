#!/usr/bin/env bash
# PostgreSQL and Redis from Debian's packages, for local runs and CI. Idempotent: installs only what
# is absent, starts only what is down, and says what it did.
#
#   scripts/services/services.sh start    install when absent, configure, start; wait until ready
#   scripts/services/services.sh status   say what answers
#   scripts/services/services.sh stop     stop what this script starts
#
# PostgreSQL: the Debian cluster (the newest installed major version, cluster "main") on
# 127.0.0.1:${PGPORT:-5432}; loopback connections of the `postgres` role are trusted (a development
# and CI machine: never use this script on a shared host), and a database `test` exists.
# Redis: redis-server on 127.0.0.1:${REDIS_PORT:-6379}, no persistence (a cache for rate limits and
# LiveKit SIP's state).
set -euo pipefail

PGPORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
log() { printf 'services: %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "need root to install $* (apt-get install -y $*)"; return 1
  fi
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n1; }

pg_configure() { # $1 = version; prints "changed" when a file changed
  local conf="/etc/postgresql/$1/main" changed=0
  # Trust the postgres role on loopback (tests connect as postgres@127.0.0.1 without a password).
  if ! grep -q '^# webdial: trust loopback' "$conf/pg_hba.conf"; then
    log "pg_hba.conf: trusting postgres@127.0.0.1 and ::1" >&2
    { echo '# webdial: trust loopback (scripts/services/services.sh; development and CI only)'
      echo 'host all postgres 127.0.0.1/32 trust'
      echo 'host all postgres ::1/128 trust'
      cat "$conf/pg_hba.conf"; } > "$conf/pg_hba.conf.new"
    mv "$conf/pg_hba.conf.new" "$conf/pg_hba.conf"
    chown postgres:postgres "$conf/pg_hba.conf"
    changed=1
  fi
  # Tests open many connections at once (several servers, pools, LISTEN clients).
  if ! grep -q '# webdial: connections' "$conf/postgresql.conf"; then
    echo 'max_connections = 300 # webdial: connections' >> "$conf/postgresql.conf"
    changed=1
  fi
  [ "$changed" = 1 ] && echo changed || true
}

pg_start() {
  [ -n "$(pg_version)" ] || apt_install postgresql postgresql-contrib
  local v; v="$(pg_version)"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}' | grep -qx "$v/main"; then
    log "creating cluster $v/main"
    pg_createcluster "$v" main -p "$PGPORT" >/dev/null
  fi
  local changed; changed="$(pg_configure "$v")"
  if pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $4}' | grep -q online; then
    if [ "$changed" = changed ]; then
      log "restarting PostgreSQL $v/main (configuration changed)"
      pg_ctlcluster --skip-systemctl-redirect "$v" main restart
    else
      log "PostgreSQL $v/main already running"
    fi
  else
    log "starting PostgreSQL $v/main"
    pg_ctlcluster --skip-systemctl-redirect "$v" main start
  fi
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p "$PGPORT" >/dev/null || { log "PostgreSQL does not answer on 127.0.0.1:$PGPORT; see /var/log/postgresql/"; exit 1; }
  if ! psql -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc "select 1 from pg_database where datname = 'test'" | grep -q 1; then
    log "creating database test"
    psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc 'create database test' >/dev/null
  fi
  log "PostgreSQL ready: postgres://postgres@127.0.0.1:$PGPORT/test"
}

redis_up() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_start() {
  if redis_up; then
    log "Redis already answers on 127.0.0.1:$REDIS_PORT"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --logfile /tmp/webdial-redis.log --pidfile "/tmp/webdial-redis-$REDIS_PORT.pid"
  for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
  redis_up || { log "Redis did not come up; see /tmp/webdial-redis.log"; exit 1; }
  log "Redis ready: redis://127.0.0.1:$REDIS_PORT"
}

case "${1:-start}" in
  start) pg_start; redis_start ;;
  status)
    if pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then log "PostgreSQL: up"; else log "PostgreSQL: down"; fi
    if redis_up; then log "Redis: up"; else log "Redis: down"; fi ;;
  stop)
    v="$(pg_version)"; [ -n "$v" ] && pg_ctlcluster --skip-systemctl-redirect "$v" main stop 2>/dev/null || true
    redis_up && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    log "stopped" ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
