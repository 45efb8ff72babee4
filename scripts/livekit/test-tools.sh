#!/usr/bin/env bash
# What the end-to-end voice tests need besides LiveKit: sipp (Debian's sip-tester) as the call
# center, Chromium as the shopper's browser, and util-linux `script` (sipp's screens need a
# terminal). Installed from Debian's packages when absent; nothing is done when present.
set -euo pipefail
missing=()
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -eq 0 ]; then echo "[test-tools] sipp, chromium and script are installed"; exit 0; fi
echo "[test-tools] installing Debian packages: ${missing[*]}"
[ "$(id -u)" -eq 0 ] || { echo "[test-tools] run as root, or: sudo apt-get install -y ${missing[*]}" >&2; exit 1; }
(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "[test-tools] installed ${missing[*]}"
