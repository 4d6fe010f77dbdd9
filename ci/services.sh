# shellcheck shell=bash
# Services the test suite can use in CI; sourced by .ci/run (bash), which then runs `make test`.
#
#   source ci/services.sh
#   ci_services_up      # install what is missing, start PostgreSQL and Orthanc (ci/orthanc.sh),
#                       # export the test variables
#
# - Debian's chromium (browser tests) and postgresql are installed with apt-get when missing
#   and possible (root, or password-less sudo, and a reachable mirror).
# - A throwaway PostgreSQL server is created in a temporary folder and listens on 127.0.0.1
#   only (port 5433, or a free one when that is taken), with trust authentication on loopback;
#   it is stopped and its folder removed when the calling shell exits (trap on EXIT).
# - Exported when the service is there: FRACTURELAB_TEST_POSTGRES_URL
#   (postgresql://postgres@127.0.0.1:PORT/fl_test) and FRACTURELAB_REQUIRE_BROWSER=1.
#   When something cannot be provided a warning says so and the variable stays unset, so the
#   tests that need it skip instead of failing.
#
# Servers left behind by an earlier run that was killed (its shell is gone) are stopped and
# their folders removed before a new one starts. Nothing here aborts the caller: every step
# checks its own failures, so `set -e` in the caller is safe.

# shellcheck source=ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=ci/orthanc.sh
source "$(dirname "${BASH_SOURCE[0]}")/orthanc.sh"

CI_PG_PREFIX="${TMPDIR:-/tmp}/fracturelab-ci-pg."
CI_PG_DB="fl_test"
CI_PG_PREFERRED_PORT=5433
# A throwaway test database needs no crash safety: skip fsync for speed.
CI_PG_FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
CI_PG_DIR=""
CI_PG_BIN=""

# Newest PostgreSQL server binaries folder (Debian: /usr/lib/postgresql/<version>/bin).
ci_pg_bin() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$found" ] && [ -x "$found/initdb" ] && [ -x "$found/pg_ctl" ]; then
        printf '%s\n' "$found"
        return 0
    fi
    return 1
}

ci_install_packages() {
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    ci_pg_bin >/dev/null || missing+=(postgresql)
    if [ "${#missing[@]}" -eq 0 ]; then
        ci_log "chromium and postgresql are installed"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        ci_warn "missing ${missing[*]} and there is no apt-get; the tests needing them will skip"
        return 0
    fi
    if ! ci_can_be_root; then
        ci_warn "missing ${missing[*]}; cannot install them (not root, no password-less sudo);" \
            "the tests needing them will skip"
        return 0
    fi
    ci_log "installing ${missing[*]} with apt-get"
    if ! ci_as_root env DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get -o Acquire::Retries=2 update -qq >&2; then
        ci_warn "apt-get update failed (no network?); the tests needing ${missing[*]} will skip"
        return 0
    fi
    if ! ci_as_root env DEBIAN_FRONTEND=noninteractive timeout 1800 \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        ci_warn "apt-get install ${missing[*]} failed; the tests needing them will skip"
    fi
    return 0
}

# Is TCP port $1 on 127.0.0.1 free?
ci_port_free() {
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
EOF
}

# 5433 when free, else a free port chosen by the kernel.
ci_pick_port() {
    if ci_port_free "$CI_PG_PREFERRED_PORT"; then
        printf '%s\n' "$CI_PG_PREFERRED_PORT"
        return 0
    fi
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a PostgreSQL tool as the user that owns the cluster (postgres when we are root).
ci_pg_run() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Stop and remove servers of earlier runs whose shell is gone (killed before its trap ran).
ci_pg_clean_stale() {
    local dir owner
    for dir in "$CI_PG_PREFIX"*; do
        [ -d "$dir" ] || continue
        owner="$(cat "$dir/ci-shell.pid" 2>/dev/null || true)"
        if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
            continue # another run in progress
        fi
        if [ -f "$dir/data/postmaster.pid" ] && [ -n "$CI_PG_BIN" ]; then
            ci_log "stopping the PostgreSQL server left by an earlier run in $dir"
            ci_pg_run "$CI_PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop \
                >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
    done
}

ci_start_postgres() {
    if ! CI_PG_BIN="$(ci_pg_bin)"; then
        ci_warn "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); PostgreSQL tests skip"
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        ci_warn "running as root without a 'postgres' user to run the server; PostgreSQL tests skip"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        ci_warn "python3 is needed to find a free port; PostgreSQL tests skip"
        return 0
    fi
    ci_pg_clean_stale
    local dir port
    if ! dir="$(mktemp -d "${CI_PG_PREFIX}XXXXXX")"; then
        ci_warn "cannot create a temporary folder for PostgreSQL; PostgreSQL tests skip"
        return 0
    fi
    CI_PG_DIR="$dir"
    printf '%s\n' "$$" >"$dir/ci-shell.pid"
    trap ci_stop_postgres EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    if ! ci_pg_run "$CI_PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1; then
        ci_warn "initdb failed ($(tail -n 1 "$dir/initdb.log")); PostgreSQL tests skip"
        return 0
    fi
    local attempt
    for attempt in 1 2 3; do
        port="$(ci_pick_port)"
        if ci_pg_run "$CI_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' $CI_PG_FAST" \
            start >/dev/null 2>&1; then
            break
        fi
        ci_log "PostgreSQL did not start on port $port (attempt $attempt); trying another port"
        port=""
    done
    if [ -z "$port" ]; then
        ci_warn "PostgreSQL did not start ($(tail -n 1 "$dir/server.log" 2>/dev/null));" \
            "PostgreSQL tests skip"
        return 0
    fi
    if ! "$CI_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$CI_PG_DB" >&2; then
        ci_warn "createdb $CI_PG_DB failed; PostgreSQL tests skip"
        return 0
    fi
    export FRACTURELAB_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/$CI_PG_DB"
    ci_log "PostgreSQL $("$CI_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port;" \
        "FRACTURELAB_TEST_POSTGRES_URL=$FRACTURELAB_TEST_POSTGRES_URL"
    return 0
}

ci_stop_postgres() {
    local dir="$CI_PG_DIR"
    [ -n "$dir" ] || return 0
    CI_PG_DIR=""
    if [ -f "$dir/data/postmaster.pid" ]; then
        ci_pg_run "$CI_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            ci_warn "could not stop the PostgreSQL server in $dir"
    fi
    rm -rf "$dir"
    ci_log "stopped the test PostgreSQL server"
}

ci_services_up() {
    ci_install_packages
    if [ -x /usr/bin/chromium ]; then
        export FRACTURELAB_REQUIRE_BROWSER=1
        ci_log "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1); FRACTURELAB_REQUIRE_BROWSER=1"
    else
        ci_warn "no /usr/bin/chromium; the browser tests will skip"
    fi
    ci_start_postgres
    ci_orthanc_up
}
