#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers on loopback for tests and development.
# Source this file, then: start_postgres DIR PORT; start_redis DIR PORT; stop_services.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_postgres DIR PORT: initialise a cluster in DIR (trust auth, user postgres) and
# start it on 127.0.0.1:PORT with a socket in DIR; fsync off (test data only).
start_postgres() {
    local dir=$1 port=$2
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/postgres" ]; then
        echo "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin" >&2
        return 1
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; return 1; }
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=256MB" \
        start >/dev/null || { cat "$dir/postgres.log" >&2; return 1; }
    STARTED_PG_DIRS="${STARTED_PG_DIRS:-} $dir"
}

stop_postgres() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
}

ensure_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "installing redis-server" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 \
            || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
    fi
}

# ensure_chromium: the headless browser of the page tests (Debian's chromium and
# chromium-driver), installed with apt-get when missing and running as root.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "chromium and chromium-driver are missing (the page tests need them): install them as root" >&2
        return 0
    fi
    echo "installing chromium and chromium-driver" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
}

# start_redis DIR PORT
start_redis() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 1 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && { STARTED_REDIS_DIRS="${STARTED_REDIS_DIRS:-} $dir"; return 0; }
        sleep 0.05
    done
    echo "redis did not start on port $port" >&2
    return 1
}

stop_redis() {
    local dir=$1
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}

stop_services() {
    local d
    for d in ${STARTED_PG_DIRS:-}; do stop_postgres "$d"; done
    for d in ${STARTED_REDIS_DIRS:-}; do stop_redis "$d"; done
}
