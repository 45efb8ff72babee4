#!/usr/bin/env bash
# A real LiveKit for tests and local runs, without Docker: livekit-server and livekit-sip built from
# the Go module proxy at pinned versions (cached), started on loopback next to Redis.
#   livekit.sh install   build the binaries if they are not cached yet (and SIP's Debian packages)
#   livekit.sh start     install, then start both and wait until they are ready (idempotent)
#   livekit.sh stop      stop both (SIGTERM, then SIGKILL after 10 s)
#   livekit.sh status    print what runs, and the connection details
#   livekit.sh env       print the connection details as KEY=value lines (what the tests read)
# Environment (defaults): LIVEKIT_CACHE_DIR ($HOME/.cache/webdial/livekit), LIVEKIT_RUN_DIR
# ($LIVEKIT_CACHE_DIR/run), LIVEKIT_PORT (7880), LIVEKIT_RTC_TCP_PORT (7881), LIVEKIT_RTC_UDP_PORT
# (7882), LIVEKIT_SIP_PORT (5060), LIVEKIT_SIP_RTP_PORTS (10000-10999), LIVEKIT_SIP_HEALTH_PORT
# (7889), LIVEKIT_SIP_METRICS_PORT (7890), REDIS_ADDR (127.0.0.1:6379), LIVEKIT_WEBHOOK_URL (http://127.0.0.1:4580/webhooks/livekit),
# LIVEKIT_API_SECRET (generated once, kept in the run dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# Pinned together: livekit-sip v1.8.0 was built against livekit/protocol v1.48.1 and psrpc v0.7.2;
# livekit-server v1.13.3 is the release on protocol v1.48.x / psrpc v0.7.2 (docs/livekit.md).
SERVER_VERSION=v1.13.3
SIP_VERSION=v1.8.0

CACHE=${LIVEKIT_CACHE_DIR:-$HOME/.cache/webdial/livekit}
RUN=${LIVEKIT_RUN_DIR:-$CACHE/run}
BIN=$CACHE/bin
SERVER_BIN=$BIN/livekit-server-$SERVER_VERSION
SIP_BIN=$BIN/livekit-sip-$SIP_VERSION
PORT=${LIVEKIT_PORT:-7880}
RTC_TCP=${LIVEKIT_RTC_TCP_PORT:-7881}
RTC_UDP=${LIVEKIT_RTC_UDP_PORT:-7882}
SIP_PORT=${LIVEKIT_SIP_PORT:-5060}
SIP_RTP=${LIVEKIT_SIP_RTP_PORTS:-10000-10999}
SIP_HEALTH=${LIVEKIT_SIP_HEALTH_PORT:-7889}
SIP_METRICS=${LIVEKIT_SIP_METRICS_PORT:-7890}
REDIS=${REDIS_ADDR:-127.0.0.1:6379}
WEBHOOK=${LIVEKIT_WEBHOOK_URL:-http://127.0.0.1:4580/webhooks/livekit}
API_KEY=webdial

log() { printf '[livekit] %s\n' "$*"; }
die() { printf '[livekit] %s\n' "$*" >&2; exit 1; }
# Build progress from `go ... -v` (one package path a line): a count every 50 packages, flushed at
# once (awk buffers a pipe until it ends otherwise: issue 22), and every other line (a compiler
# error, a download) as it is.
progress() {
  awk '
    /^go: downloading / { d++; if (d % 50 == 0) { printf "[livekit]   %d modules downloaded\n", d; fflush() } next }
    /^[A-Za-z0-9_.~\/+-]+$/ { n++; if (n % 50 == 0) { printf "[livekit]   %d packages built\n", n; fflush() } next }
    { print "[livekit]   " $0; fflush() }
    END { printf "[livekit]   %d packages built\n", n; fflush() }'
}

need_go() {
  command -v go >/dev/null 2>&1 || die "Go is needed to build LiveKit (go install from the module proxy); install Go 1.26+"
}

sip_packages() {
  # livekit-sip is cgo: Opus, Opusfile and SoXR headers, pkg-config and a C compiler.
  local missing=()
  for p in gcc pkg-config libopus-dev libopusfile-dev libsoxr-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages for livekit-sip's cgo build: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then die "run as root, or: sudo apt-get install -y ${missing[*]}"; fi
  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install() {
  mkdir -p "$BIN"
  if [ ! -x "$SERVER_BIN" ]; then
    need_go
    log "building livekit-server $SERVER_VERSION (go install; the first build takes about 4-5 minutes on 2 cores)"
    local t0=$SECONDS tmp
    tmp=$(mktemp -d "$CACHE/gobin.XXXXXX")
    GOBIN=$tmp CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -v "github.com/livekit/livekit-server/cmd/server@$SERVER_VERSION" 2>&1 |
      progress
    [ -x "$tmp/server" ] || die "livekit-server build failed (go install github.com/livekit/livekit-server/cmd/server@$SERVER_VERSION)"
    mv "$tmp/server" "$SERVER_BIN" && rmdir "$tmp"
    log "livekit-server built in $((SECONDS - t0)) s: $SERVER_BIN"
  fi
  if [ ! -x "$SIP_BIN" ]; then
    need_go
    sip_packages
    log "building livekit-sip $SIP_VERSION (cgo; the first build takes about 3 minutes on 2 cores)"
    local t0=$SECONDS
    (cd scripts/livekit/sip-build && CGO_ENABLED=1 GOFLAGS=-buildvcs=false go build -v -o "$SIP_BIN.tmp" github.com/livekit/sip/cmd/livekit-sip 2>&1) |
      progress
    [ -x "$SIP_BIN.tmp" ] || die "livekit-sip build failed (scripts/livekit/sip-build)"
    mv "$SIP_BIN.tmp" "$SIP_BIN"
    log "livekit-sip built in $((SECONDS - t0)) s: $SIP_BIN"
  fi
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

secret() {
  mkdir -p "$RUN"
  if [ -n "${LIVEKIT_API_SECRET:-}" ]; then printf '%s' "$LIVEKIT_API_SECRET" > "$RUN/api.secret"; fi
  [ -s "$RUN/api.secret" ] || head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 48 > "$RUN/api.secret"
  cat "$RUN/api.secret"
}

write_env() {
  cat > "$RUN/livekit.env" <<ENV
LIVEKIT_URL=http://127.0.0.1:$PORT
LIVEKIT_WS_URL=ws://127.0.0.1:$PORT
LIVEKIT_API_KEY=$API_KEY
LIVEKIT_API_SECRET=$1
LIVEKIT_SIP_PORT=$SIP_PORT
LIVEKIT_SIP_METRICS_URL=http://127.0.0.1:$SIP_METRICS/metrics
LIVEKIT_WEBHOOK_URL=$WEBHOOK
LIVEKIT_SERVER_VERSION=$SERVER_VERSION
LIVEKIT_SIP_VERSION=$SIP_VERSION
ENV
}

redis_up() {
  local host=${REDIS%:*} port=${REDIS##*:}
  if command -v redis-cli >/dev/null 2>&1; then redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; else (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; fi
}

wait_until() { # seconds, description, command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.3
  done
}

http_ok() { node -e "fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "$1"; }

start() {
  install
  redis_up || die "Redis is not reachable at $REDIS (livekit-sip and livekit-server's SIP API need it): bash scripts/services/services.sh start"
  local key
  key=$(secret)
  write_env "$key"
  if ! alive server; then
    log "starting livekit-server $SERVER_VERSION on 127.0.0.1:$PORT (WebRTC tcp $RTC_TCP, udp $RTC_UDP; webhooks to $WEBHOOK)"
    # deploy/livekit.yaml is the production file: the webhook URL (a list, which no variable can
    # override) is replaced in a copy, and these variables override the rest for loopback.
    sed "s|^    - http://127.0.0.1:4000/webhooks/livekit\$|    - $WEBHOOK|" deploy/livekit.yaml > "$RUN/server.yaml"
    grep -qF -- "- $WEBHOOK" "$RUN/server.yaml" || die "deploy/livekit.yaml: its webhook URL line was not found"

    LIVEKIT_KEYS="$API_KEY: $key" \
    LIVEKIT_PORT=$PORT \
    LIVEKIT_RTC_TCP_PORT=$RTC_TCP \
    LIVEKIT_RTC_USE_EXTERNAL_IP=false \
    LIVEKIT_RTC_ENABLE_LOOPBACK_CANDIDATE=true \
      nohup "$SERVER_BIN" --config "$RUN/server.yaml" --bind 127.0.0.1 --node-ip 127.0.0.1 --udp-port "$RTC_UDP" --redis-host "$REDIS" \
      > "$RUN/server.log" 2>&1 &
    echo $! > "$RUN/server.pid"
  fi
  if ! alive sip; then
    # The production file, with the local ports and the loopback address announced in SDP.
    grep -vE '^(sip_port|rtp_port|health_port|prometheus_port|use_external_ip):|^  address:' deploy/livekit-sip.yaml |
      sed "s|^redis:|redis:\n  address: $REDIS|" > "$RUN/sip.yaml"
    # max_cpu_utilization 1.0: on a shared 2-core test machine the default (0.9) refuses calls with
    # "cpu exhausted" whenever other tests are busy.
    printf 'sip_port: %s\nrtp_port: %s\nhealth_port: %s\nprometheus_port: %s\nnat_1_to_1_ip: 127.0.0.1\nlisten_ip: 127.0.0.1\nmax_cpu_utilization: 1.0\n' "$SIP_PORT" "$SIP_RTP" "$SIP_HEALTH" "$SIP_METRICS" >> "$RUN/sip.yaml"
    log "starting livekit-sip $SIP_VERSION (SIP 127.0.0.1:$SIP_PORT udp+tcp, RTP $SIP_RTP)"
    LIVEKIT_API_KEY=$API_KEY LIVEKIT_API_SECRET=$key LIVEKIT_WS_URL=ws://127.0.0.1:$PORT \
      nohup "$SIP_BIN" --config "$RUN/sip.yaml" > "$RUN/sip.log" 2>&1 &
    echo $! > "$RUN/sip.pid"
  fi
  log "waiting for livekit-server (GET http://127.0.0.1:$PORT/)"
  wait_until 30 server http_ok "http://127.0.0.1:$PORT/" || { tail -20 "$RUN/server.log" >&2; die "livekit-server did not become ready in 30 s (log: $RUN/server.log)"; }
  log "waiting for livekit-sip (health on 127.0.0.1:$SIP_HEALTH, then the SIP API through the server)"
  wait_until 30 sip http_ok "http://127.0.0.1:$SIP_HEALTH/" || { tail -20 "$RUN/sip.log" >&2; die "livekit-sip did not become ready in 30 s (log: $RUN/sip.log)"; }
  wait_until 30 api node scripts/livekit/ready.js "$RUN/livekit.env" || die "the SIP API does not answer through livekit-server (logs: $RUN/server.log, $RUN/sip.log)"
  log "ready: LiveKit $SERVER_VERSION + SIP $SIP_VERSION; connection details in $RUN/livekit.env"
}

stop_one() {
  alive "$1" || { rm -f "$RUN/$1.pid"; return 0; }
  local pid
  pid=$(cat "$RUN/$1.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN/$1.pid"
  log "stopped $1 (pid $pid)"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_one sip; stop_one server ;;
  restart) stop_one sip; stop_one server; start ;;
  status)
    for p in server sip; do if alive $p; then log "$p running (pid $(cat "$RUN/$p.pid"))"; else log "$p not running"; fi; done
    [ -f "$RUN/livekit.env" ] && grep -v SECRET "$RUN/livekit.env" || true ;;
  env) cat "$RUN/livekit.env" ;;
  *) echo "usage: $0 install|start|stop|restart|status|env" >&2; exit 2 ;;
esac
