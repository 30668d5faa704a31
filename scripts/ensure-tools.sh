#!/usr/bin/env bash
# Install the Debian tools the tests and benchmarks drive, when missing: chromium (the page
# tests, through Playwright: never a downloaded browser), wrk (the serving benchmark and its
# smoke test), nginx (deploy/run-local.sh and its tests; only installed, never started or
# configured here) and strace (the file-system test in tests/test_hostile.py).
# Usage: scripts/ensure-tools.sh [TOOL ...]   (default: all four). Uses sudo when not root.
set -euo pipefail
tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then tools=(chromium wrk nginx strace); fi
missing=()
for tool in "${tools[@]}"; do
    case "$tool" in
        chromium|wrk|nginx|strace) ;;
        *) echo "ensure-tools.sh: unknown tool '$tool' (chromium, wrk, nginx, strace)" >&2; exit 2 ;;
    esac
    if command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ]; then continue; fi
    missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "${missing[*]} missing and apt-get is not available: install them and put them on PATH" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing Debian's ${missing[*]} for the tests and benchmarks..."
$SUDO apt-get update -qq
packages=()
for tool in "${missing[@]}"; do
    # nginx-light is the smallest build Debian offers (bookworm); newer releases ship nginx only.
    if [ "$tool" = nginx ] && apt-cache show nginx-light >/dev/null 2>&1; then
        packages+=(nginx-light)
    else
        packages+=("$tool")
    fi
done
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
