#!/usr/bin/env bash
# Install Debian's nginx (deploy/run-local.sh and its tests) and strace (the file-system test in
# tests/test_hostile.py) when missing, so those tests run instead of skipping. Uses sudo when
# not root. nginx is only installed, never started or configured here.
set -euo pipefail
missing=()
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then missing+=(nginx); fi
if ! command -v strace >/dev/null 2>&1; then missing+=(strace); fi
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "${missing[*]} missing and apt-get is not available: install them and put them on PATH" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=()
for tool in "${missing[@]}"; do
    if [ "$tool" = nginx ]; then
        # nginx-light is the smallest build Debian offers (bookworm); newer releases only ship nginx.
        if apt-cache show nginx-light >/dev/null 2>&1; then packages+=(nginx-light); else packages+=(nginx); fi
    else
        packages+=("$tool")
    fi
done
echo "Installing ${packages[*]} for the tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
