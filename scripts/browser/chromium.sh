#!/usr/bin/env bash
# Debian's Chromium for the browser tests (playwright-core drives it; no downloaded browsers).
# Idempotent: does nothing when it is installed. CHROMIUM_PATH points the tests elsewhere.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null | head -1) at $CHROMIUM"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: $CHROMIUM is missing and apt-get is not available: install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
echo "chromium: installing Debian's chromium (and a font) with apt-get…"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $("$CHROMIUM" --version 2>/dev/null | head -1)"
