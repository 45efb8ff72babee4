#!/usr/bin/env bash
# Checks the monitoring files in deploy/ with Prometheus' own tool, idempotently:
#   - promtool (Debian's `prometheus` package) is installed when absent;
#   - `promtool check rules` on the alert rules and `promtool check config` on the example config;
#   - every PromQL expression of the Grafana dashboard parses (as a recording rule);
#   - a live embedded server's GET /metrics passes `promtool check metrics`, and every metric the
#     dashboard and the alerts use is one it exposes.
# Needs the TypeScript build (npm run build). Usage: bash scripts/prometheus/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { printf 'prometheus-check: %s\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "promtool is missing and installing it needs root (apt-get install prometheus)"; exit 1; fi
  log "installing Debian's prometheus package (for promtool)"
  apt-get update -qq
  # No recommends (node exporter, …); no service is started (policy-rc.d, or no init system).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
log "$(promtool --version 2>&1 | head -n1)"

promtool check rules deploy/prometheus/alerts.yml
promtool check config deploy/prometheus/prometheus.yml
node scripts/prometheus/check-metrics.js
