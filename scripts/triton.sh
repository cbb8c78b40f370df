#!/usr/bin/env bash
# A real NVIDIA Triton Inference Server (2.51, CPU, python backend) on loopback for tests,
# taken from the PyPI wheel nvidia-pytriton, serving the test models in tests/triton/models.
# Source this file, then:
#   ensure_triton                                  # venv + wheel + python backend stub (once)
#   read -r grpc http < <(triton_free_ports)
#   start_triton REPO GRPC_PORT HTTP_PORT LOGFILE  # exports TRITON_PID, TRITON_GRPC_ADDR
#   stop_triton [PID]                              # server(s) and their python stub processes
# Safe under `set -euo pipefail`.

TRITON_VENV=${TRITON_VENV:-$HOME/.cache/robotoff-triton-venv}
TRITON_PYTHON=${TRITON_PYTHON:-python3}
TRITON_PIP_PACKAGES="nvidia-pytriton==0.7.0 numpy==1.26.4"

# Installs one Debian package when running as root with apt-get; otherwise explains.
_triton_apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $*" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
            || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
    else
        echo "missing Debian package(s): $* (install them as root)" >&2
        return 1
    fi
}

# The venv's site-packages directory (the wheel's server and backend live inside it).
_triton_site_packages() {
    local d
    for d in "$TRITON_VENV"/lib/python3.*/site-packages; do
        [ -d "$d/pytriton/tritonserver" ] && { echo "$d"; return 0; }
    done
    return 1
}

# ensure_triton: create the venv (once), install the wheel and numpy, copy the python
# backend stub built for the venv's Python next to libtriton_python.so. Idempotent: a
# marker file records what was installed; a second call costs a few milliseconds.
ensure_triton() {
    local marker="$TRITON_VENV/.robotoff-triton-ready"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$TRITON_PIP_PACKAGES" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$TRITON_VENV")"
    # One installer at a time (parallel test runs on a fresh machine).
    (
        flock -w 900 9 || { echo "timed out waiting for $TRITON_VENV.lock" >&2; exit 1; }
        _ensure_triton_locked
    ) 9>"$TRITON_VENV.lock"
}

_ensure_triton_locked() {
    local marker="$TRITON_VENV/.robotoff-triton-ready"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$TRITON_PIP_PACKAGES" ]; then
        return 0
    fi
    local pyver
    pyver=$("$TRITON_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || return 1
    if [ ! -x "$TRITON_VENV/bin/python" ]; then
        if ! "$TRITON_PYTHON" -m venv "$TRITON_VENV" >/dev/null 2>&1; then
            # Debian's python3 lacks ensurepip until python3-venv is installed.
            rm -rf "$TRITON_VENV"
            _triton_apt_install "python$pyver-venv" || return 1
            "$TRITON_PYTHON" -m venv "$TRITON_VENV" || { rm -rf "$TRITON_VENV"; return 1; }
        fi
    fi
    # --no-deps: only the server binary (inside the wheel) and numpy (for the python
    # backend) are used; pytriton's Python API and its 40 dependencies are not.
    # shellcheck disable=SC2086
    PIP_NO_INPUT=1 "$TRITON_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --root-user-action=ignore --no-deps $TRITON_PIP_PACKAGES || return 1
    local sp stub
    sp=$(_triton_site_packages) || { echo "pytriton not found in $TRITON_VENV" >&2; return 1; }
    stub="$sp/pytriton/tritonserver/python_backend_stubs/$pyver/triton_python_backend_stub"
    [ -f "$stub" ] || { echo "no python backend stub for Python $pyver in nvidia-pytriton" >&2; return 1; }
    cp "$stub" "$sp/pytriton/tritonserver/backends/python/triton_python_backend_stub"
    # The stub embeds the system's shared libpython (Debian: package libpython3.11).
    stub="$sp/pytriton/tritonserver/backends/python/triton_python_backend_stub"
    if ldd "$stub" 2>&1 | grep 'not found' >/dev/null; then
        _triton_apt_install "libpython$pyver" || return 1
        if ldd "$stub" 2>&1 | grep 'not found' >&2; then return 1; fi
    fi
    echo "$TRITON_PIP_PACKAGES" >"$marker"
}

# Alive and not a zombie.
_triton_alive() {
    local pid=$1 state
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# _triton_owns_port PID PORT: PID holds the socket listening on loopback PORT.
_triton_owns_port() {
    local pid=$1 hex inode
    hex=$(printf '%04X' "$2")
    for inode in $(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
        ls -l "/proc/$pid/fd" 2>/dev/null | grep "socket:\[$inode\]" >/dev/null && return 0
    done
    return 1
}

_triton_ready() {
    local url="http://127.0.0.1:$1/v2/health/ready"
    if command -v curl >/dev/null 2>&1; then
        curl -sf -o /dev/null --max-time 2 "$url"
    else
        "$TRITON_VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url" >/dev/null 2>&1
    fi
}

# triton_free_ports: print two distinct free loopback ports ("GRPC HTTP"). Both sockets
# are held open together: two separate bind-to-0 probes can return the same port.
triton_free_ports() {
    python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

# start_triton REPO GRPC_PORT HTTP_PORT LOGFILE: start tritonserver in its own session
# (process group = TRITON_PID, so its python stub processes can be killed with it), bound
# to 127.0.0.1 only, metrics off, explicit model control with every model in REPO loaded
# (tests may unload/load models through the repository API). Waits until ready, at most
# TRITON_START_TIMEOUT seconds (default 60). On success exports TRITON_PID, TRITON_GRPC_ADDR
# (127.0.0.1:GRPC_PORT, what the Robotoff client calls a Triton URI) and TRITON_HTTP_ADDR;
# on failure prints the log tail, stops the server and leaves those variables alone.
start_triton() {
    local repo=$1 grpc_port=$2 http_port=$3 log=$4
    local sp pidfile pid="" i
    sp=$(_triton_site_packages) || { echo "run ensure_triton first" >&2; return 1; }
    repo=$(cd "$repo" && pwd) || return 1
    mkdir -p "$(dirname "$log")"
    log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")
    pidfile="$log.pid"
    rm -f "$pidfile"
    # The stub embeds the system Python in isolated mode (PYTHON* variables are ignored) and
    # its sys.path lacks the venv: each model.py prepends ROBOTOFF_TRITON_SITE_PACKAGES
    # before importing numpy. OPENBLAS_NUM_THREADS: one thread per stub. The shared-memory
    # prefix carries the server's pid so stop_triton can remove regions that a killed or
    # failed server leaves in /dev/shm (1 MB per model).
    setsid -f bash -c 'echo $$ >"$0"; exec "$@" --backend-config=python,shm-region-prefix-name=robotoff_triton_$$_' "$pidfile" \
        env ROBOTOFF_TRITON_SITE_PACKAGES="$sp" OPENBLAS_NUM_THREADS=1 \
        "$sp/pytriton/tritonserver/bin/tritonserver" \
        --model-repository "$repo" \
        --backend-directory "$sp/pytriton/tritonserver/backends" \
        --model-control-mode explicit --load-model '*' \
        --grpc-address 127.0.0.1 --grpc-port "$grpc_port" \
        --http-address 127.0.0.1 --http-port "$http_port" \
        --reuse-grpc-port=false --reuse-http-port=false \
        --allow-metrics=false --exit-timeout-secs 5 \
        </dev/null >"$log" 2>&1
    for i in $(seq 1 100); do
        [ -s "$pidfile" ] && { pid=$(cat "$pidfile"); break; }
        sleep 0.02
    done
    if [ -z "$pid" ]; then
        echo "tritonserver did not start (no pid in $pidfile)" >&2
        return 1
    fi
    STARTED_TRITON_PIDS="${STARTED_TRITON_PIDS:-} $pid"
    local deadline=$((SECONDS + ${TRITON_START_TIMEOUT:-60}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        # Ownership check: a second server on a busy port logs "Started HTTPService" and
        # exits only afterwards, meanwhile the health check is answered by the other one.
        if _triton_owns_port "$pid" "$grpc_port" && _triton_owns_port "$pid" "$http_port" \
            && _triton_ready "$http_port"; then
            export TRITON_PID=$pid TRITON_GRPC_ADDR="127.0.0.1:$grpc_port" TRITON_HTTP_ADDR="127.0.0.1:$http_port"
            return 0
        fi
        _triton_alive "$pid" || break
        sleep 0.1
    done
    echo "tritonserver did not become ready on 127.0.0.1:$http_port; last lines of $log:" >&2
    grep -av '^[|+]' "$log" | tail -n 40 >&2
    stop_triton "$pid"
    return 1
}

# stop_triton [PID]: stop PID, or with no argument every server start_triton started in
# this shell. SIGTERM (graceful: models unloaded, stubs told to exit), then after at most
# 10 s SIGKILL to the whole process group (server + any stub left behind).
stop_triton() {
    local pids pid i
    pids=${1:-${STARTED_TRITON_PIDS:-}}
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        for i in $(seq 1 100); do
            _triton_alive "$pid" || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f /dev/shm/robotoff_triton_"$pid"_*
        STARTED_TRITON_PIDS=$(echo " ${STARTED_TRITON_PIDS:-} " | sed "s/ $pid / /g; s/^ *//; s/ *$//")
        if [ "$pid" = "${TRITON_PID:-}" ]; then unset TRITON_PID TRITON_GRPC_ADDR TRITON_HTTP_ADDR; fi
    done
    return 0
}
