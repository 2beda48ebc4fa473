#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the test suite.
#
#   scripts/postgres-test.sh start   # prints: export GATEHOUSE_TEST_POSTGRES_URL=postgres://...
#   scripts/postgres-test.sh stop
#
# The server listens on 127.0.0.1 only, on a free port, with trust authentication, its unix
# socket inside its own temporary directory, and durability turned off (fsync=off) because its
# data is thrown away. `start` also writes the export line to the environment file (default
# target/postgres-test.env in the repository; set GATEHOUSE_TEST_POSTGRES_ENV to move it), which a
# Makefile can source. Both commands are idempotent: `start` reuses a running server and `stop`
# succeeds when nothing runs.
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
# that Debian's postgresql package creates.

set -euo pipefail

repository=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_file=${GATEHOUSE_TEST_POSTGRES_ENV:-$repository/target/postgres-test.env}

fail() {
    echo "postgres-test.sh: $*" >&2
    exit 1
}

find_bin_dir() {
    local dir
    # The newest installed major version wins.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# Runs a command as the server's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Reads the data directory recorded by a previous `start`, if any.
recorded_dir() {
    if [[ -f $env_file ]]; then
        sed -n 's/^GATEHOUSE_TEST_POSTGRES_DIR=//p' "$env_file"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    local bin_dir dir port attempt server_options version
    bin_dir=$(find_bin_dir) ||
        fail "PostgreSQL server programs (initdb, pg_ctl) not found under" \
            "/usr/lib/postgresql/*/bin; install them with: apt-get install postgresql"
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        fail "running as root needs the 'postgres' system user (PostgreSQL refuses to run as" \
            "root); install Debian's postgresql package, which creates it"
    fi

    dir=$(recorded_dir)
    if [[ -n $dir && -d $dir/data ]] &&
        as_owner "$bin_dir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "postgres-test.sh: already running ($dir)" >&2
        grep '^export ' "$env_file"
        return 0
    fi
    # A recorded server that is not running any more is cleaned up and replaced.
    stop >/dev/null

    dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-postgres.XXXXXX")
    chmod 700 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    as_owner "$bin_dir/initdb" -D "$dir/data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; rm -rf "$dir"; fail "initdb failed"; }
    # Trust only the unix socket (inside $dir) and loopback TCP.
    as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
host all all 127.0.0.1/32 trust
HBA

    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        server_options="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir"
        server_options+=" -c max_connections=200 -c fsync=off -c synchronous_commit=off"
        server_options+=" -c full_page_writes=off"
        if as_owner "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "$server_options" start >/dev/null; then
            mkdir -p "$(dirname "$env_file")"
            {
                echo "export GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
                echo "GATEHOUSE_TEST_POSTGRES_DIR=$dir"
            } >"$env_file"
            version=$("$bin_dir/pg_ctl" --version | awk '{print $3}')
            echo "postgres-test.sh: PostgreSQL $version running on 127.0.0.1:$port ($dir);" \
                "environment in $env_file" >&2
            grep '^export ' "$env_file"
            return 0
        fi
        echo "postgres-test.sh: start on port $port failed (attempt $attempt);" \
            "retrying on another port" >&2
    done
    cat "$dir/server.log" >&2 || true
    rm -rf "$dir"
    fail "PostgreSQL did not start; see the server log above"
}

stop() {
    local bin_dir dir
    dir=$(recorded_dir)
    if [[ -n $dir && -d $dir ]]; then
        if bin_dir=$(find_bin_dir) && [[ -d $dir/data ]]; then
            as_owner "$bin_dir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        fi
        # Only remove a directory this script made.
        case $dir in
            */gatehouse-postgres.*) rm -rf "$dir" ;;
        esac
        echo "postgres-test.sh: stopped ($dir)" >&2
    fi
    rm -f "$env_file"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
