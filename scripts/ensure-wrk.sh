#!/usr/bin/env bash
# Install Debian's wrk for the serving benchmark when it is missing (its smoke test falls back to
# the Python load generator without it, so the test suite runs either way). Uses sudo when not
# root.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "wrk is missing and apt-get is not available: install wrk and put it on PATH" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing Debian's wrk for the serving benchmark..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
command -v wrk
