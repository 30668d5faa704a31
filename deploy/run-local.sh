#!/usr/bin/env bash
# deploy/run-local.sh PORT MODELS_DIR: Debian's nginx on 127.0.0.1:PORT, in the foreground, in
# front of gunicorn on a unix socket; SIGTERM (or Ctrl-C) to this script stops both.
#
# Everything nginx writes (pid, logs, temp files, the rendered config) lives in a temporary
# folder removed on exit; /etc/nginx is never read or changed. Works as root or not.
# Environment: PYTHON (default: the checkout's .venv, else python3), NGINX (default: nginx on
# PATH or /usr/sbin/nginx), REGSERVE_UPSTREAM (proxy to a gunicorn you run yourself instead of
# starting one, e.g. 127.0.0.1:8000), the limits REGSERVE_RATE (50r/s), REGSERVE_BURST (100),
# REGSERVE_CONN_PER_CLIENT (64), REGSERVE_PROXY_TIMEOUT (30s); gunicorn's own variables
# (WEB_CONCURRENCY, GUNICORN_THREADS, ...) and the server's REGSERVE_* settings pass through.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PORT MODELS_DIR" >&2
    exit 2
fi
PORT=$1
if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    echo "error: PORT must be a number from 1 to 65535, got '$PORT'" >&2
    exit 2
fi
if [ ! -d "$2" ]; then
    echo "error: models folder '$2' does not exist; train first with 'python -m trainer --all'" >&2
    exit 2
fi
MODELS_DIR=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$NGINX" ]; then
    echo "error: nginx is not installed (Debian: apt-get install nginx-light)" >&2
    exit 3
fi
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi

PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/regserve-nginx.XXXXXX")
# nginx started as root runs its workers as nobody: they must reach the socket in here.
chmod 755 "$PREFIX"
mkdir -p "$PREFIX/tmp"
SOCKET=$PREFIX/gunicorn.sock
NGINX_PID="" GUNICORN_PID=""

stop() {
    trap - TERM INT
    if [ -n "$NGINX_PID" ]; then kill -TERM "$NGINX_PID" 2>/dev/null || true; fi
    if [ -n "$GUNICORN_PID" ]; then kill -TERM "$GUNICORN_PID" 2>/dev/null || true; fi
    if [ -n "$NGINX_PID" ]; then wait "$NGINX_PID" 2>/dev/null || true; fi
    if [ -n "$GUNICORN_PID" ]; then wait "$GUNICORN_PID" 2>/dev/null || true; fi
    rm -rf "$PREFIX"
}
trap 'stop; exit 0' TERM INT
trap 'rm -rf "$PREFIX"' EXIT

# Fill the template's placeholders (and only those: nginx's own $variables stay as they are).
render() {
    sed -e "s|\${REGSERVE_LISTEN}|127.0.0.1:$PORT|g" \
        -e "s|\${REGSERVE_UPSTREAM}|${REGSERVE_UPSTREAM:-unix:$SOCKET}|g" \
        -e "s|\${REGSERVE_RATE}|${REGSERVE_RATE:-50r/s}|g" \
        -e "s|\${REGSERVE_BURST}|${REGSERVE_BURST:-100}|g" \
        -e "s|\${REGSERVE_CONN_PER_CLIENT}|${REGSERVE_CONN_PER_CLIENT:-64}|g" \
        -e "s|\${REGSERVE_PROXY_TIMEOUT}|${REGSERVE_PROXY_TIMEOUT:-30s}|g" \
        "$HERE/nginx/regserve.conf.template"
}
render > "$PREFIX/regserve.conf"
cat > "$PREFIX/nginx.conf" <<CONF
worker_processes 1;
pid $PREFIX/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path $PREFIX/tmp/body;
    proxy_temp_path $PREFIX/tmp/proxy;
    fastcgi_temp_path $PREFIX/tmp/fastcgi;
    uwsgi_temp_path $PREFIX/tmp/uwsgi;
    scgi_temp_path $PREFIX/tmp/scgi;
    include $PREFIX/regserve.conf;
}
CONF
NGINX_ARGS=(-p "$PREFIX" -c "$PREFIX/nginx.conf" -e stderr)
"$NGINX" "${NGINX_ARGS[@]}" -t -q

if [ -z "${REGSERVE_UPSTREAM:-}" ]; then
    # Two malloc arenas: each hot reload frees a model set, and glibc's per-thread arenas keep
    # much of it (a 5-minute soak with reloads: RSS spread 1.4% with it; 10 min without: 13.7%).
    # python -m server execs the project's one gunicorn command line (server/launcher.py).
    (cd "$ROOT" && MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} exec "$PYTHON" -m server \
        --bind "unix:$SOCKET" --models "$MODELS_DIR") &
    GUNICORN_PID=$!
fi
"$NGINX" "${NGINX_ARGS[@]}" -g 'daemon off;' &
NGINX_PID=$!
echo "RegServe: http://127.0.0.1:$PORT/ (nginx) -> gunicorn on ${REGSERVE_UPSTREAM:-unix:$SOCKET}; SIGTERM or Ctrl-C stops both" >&2

# Either one ending ends both: a proxy without its server (or the reverse) is no service.
status=0
wait -n || status=$?
stop
exit "$status"
