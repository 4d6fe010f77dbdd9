# shellcheck shell=bash
# A throwaway Orthanc server for the PACS tests (tests/pacs); sourced by ci/services.sh.
#
#   source ci/orthanc.sh
#   ci_orthanc_up      # install orthanc when missing, start it, export the test variables
#
# - Debian's orthanc is installed with apt-get when missing and possible (root, or
#   password-less sudo, and a reachable mirror).
# - The server gets a temporary folder (configuration, storage, index, log), free ports for
#   REST and DICOM, accepts REST calls from 127.0.0.1 only (RemoteAccessAllowed false, no
#   authentication), loads no plugins, marks a series stable after 1 s (StableAge) and
#   replaces an instance stored again with the same SOPInstanceUID (OverwriteInstances).
#   It is stopped and its folder removed when the calling shell exits (trap on EXIT).
# - Exported when it runs: FRACTURELAB_TEST_ORTHANC_URL (http://127.0.0.1:PORT),
#   FRACTURELAB_TEST_ORTHANC_DICOM_PORT and FRACTURELAB_TEST_ORTHANC_AET. When it cannot
#   be provided a warning says so and the variables stay unset, so the tests skip.
#
# Servers left by an earlier run that was killed (its shell is gone) are stopped first.
# Nothing here aborts the caller: every step checks its own failures (`set -e` is safe).

CI_ORTHANC_PREFIX="${TMPDIR:-/tmp}/fracturelab-ci-orthanc."
CI_ORTHANC_AET="FLTEST"
CI_ORTHANC_DIR=""
CI_ORTHANC_PID=""

# shellcheck source=ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ci_orthanc_install() {
    command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        ci_warn "orthanc is missing and there is no apt-get; the Orthanc tests will skip"
        return 0
    fi
    ci_log "installing orthanc with apt-get"
    if ! ci_as_root env DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get -o Acquire::Retries=2 update -qq >&2; then
        ci_warn "apt-get update failed (no network?); the Orthanc tests will skip"
        return 0
    fi
    if ! ci_as_root env DEBIAN_FRONTEND=noninteractive timeout 1800 \
        apt-get install -y -qq --no-install-recommends orthanc >&2; then
        ci_warn "apt-get install orthanc failed (not root, no sudo?); the Orthanc tests will skip"
    fi
    # The package starts a system service on 8042/4242; the tests use their own server.
    return 0
}

ci_orthanc_binary() {
    if command -v Orthanc >/dev/null 2>&1; then
        command -v Orthanc
    elif [ -x /usr/sbin/Orthanc ]; then
        printf '%s\n' /usr/sbin/Orthanc
    else
        return 1
    fi
}

# A free TCP port on 127.0.0.1, chosen by the kernel.
ci_orthanc_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Add ci_orthanc_down to the EXIT trap, after what is already there (PostgreSQL's stop).
ci_orthanc_chain_exit_trap() {
    local existing
    existing="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\\1/")"
    case "$existing" in
    *ci_orthanc_down*) ;;
    "") trap ci_orthanc_down EXIT ;;
    *) trap "$existing; ci_orthanc_down" EXIT ;;
    esac
}

ci_orthanc_clean_stale() {
    local dir owner pid
    for dir in "$CI_ORTHANC_PREFIX"*; do
        [ -d "$dir" ] || continue
        owner="$(cat "$dir/ci-shell.pid" 2>/dev/null || true)"
        if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
            continue # another run in progress
        fi
        pid="$(cat "$dir/orthanc.pid" 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            ci_log "stopping the Orthanc server left by an earlier run in $dir"
            kill "$pid" 2>/dev/null || true
        fi
        rm -rf "$dir"
    done
}

ci_orthanc_start() {
    local binary
    if ! binary="$(ci_orthanc_binary)"; then
        ci_warn "no Orthanc binary; the Orthanc tests will skip"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        ci_warn "python3 is needed to find free ports; the Orthanc tests will skip"
        return 0
    fi
    ci_orthanc_clean_stale
    local dir http_port dicom_port attempt url
    if ! dir="$(mktemp -d "${CI_ORTHANC_PREFIX}XXXXXX")"; then
        ci_warn "cannot create a temporary folder for Orthanc; the Orthanc tests will skip"
        return 0
    fi
    CI_ORTHANC_DIR="$dir"
    printf '%s\n' "$$" >"$dir/ci-shell.pid"
    ci_orthanc_chain_exit_trap
    trap 'exit 130' INT
    trap 'exit 143' TERM
    for attempt in 1 2 3; do
        http_port="$(ci_orthanc_free_port)"
        dicom_port="$(ci_orthanc_free_port)"
        cat >"$dir/orthanc.json" <<EOF
{
  "Name": "fracturelab-ci",
  "StorageDirectory": "$dir/storage",
  "IndexDirectory": "$dir/index",
  "HttpPort": $http_port,
  "DicomPort": $dicom_port,
  "DicomAet": "$CI_ORTHANC_AET",
  "DicomServerEnabled": true,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "Plugins": [],
  "StableAge": 1,
  "OverwriteInstances": true,
  "ConcurrentJobs": 1,
  "HttpThreadsCount": 8
}
EOF
        "$binary" "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
        CI_ORTHANC_PID=$!
        printf '%s\n' "$CI_ORTHANC_PID" >"$dir/orthanc.pid"
        url="http://127.0.0.1:$http_port"
        local waited
        for waited in $(seq 1 60); do
            if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/system', timeout=2)" \
                "$url" 2>/dev/null; then
                break
            fi
            kill -0 "$CI_ORTHANC_PID" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$CI_ORTHANC_PID" 2>/dev/null &&
            python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/system', timeout=2)" \
                "$url" 2>/dev/null; then
            export FRACTURELAB_TEST_ORTHANC_URL="$url"
            export FRACTURELAB_TEST_ORTHANC_DICOM_PORT="$dicom_port"
            export FRACTURELAB_TEST_ORTHANC_AET="$CI_ORTHANC_AET"
            ci_log "Orthanc $("$binary" --version 2>/dev/null | head -n 1 | awk '{print $2}') on" \
                "$url (DICOM $CI_ORTHANC_AET@127.0.0.1:$dicom_port);" \
                "FRACTURELAB_TEST_ORTHANC_URL=$url"
            return 0
        fi
        ci_log "Orthanc did not start on ports $http_port/$dicom_port (attempt $attempt)"
        kill "$CI_ORTHANC_PID" 2>/dev/null || true
        wait "$CI_ORTHANC_PID" 2>/dev/null || true
        CI_ORTHANC_PID=""
    done
    ci_warn "Orthanc did not start ($(tail -n 1 "$dir/orthanc.log" 2>/dev/null)); the Orthanc tests will skip"
    return 0
}

ci_orthanc_down() {
    local dir="$CI_ORTHANC_DIR"
    [ -n "$dir" ] || return 0
    CI_ORTHANC_DIR=""
    if [ -n "$CI_ORTHANC_PID" ] && kill -0 "$CI_ORTHANC_PID" 2>/dev/null; then
        kill "$CI_ORTHANC_PID" 2>/dev/null || true
        wait "$CI_ORTHANC_PID" 2>/dev/null || true
    fi
    CI_ORTHANC_PID=""
    rm -rf "$dir"
    unset FRACTURELAB_TEST_ORTHANC_URL FRACTURELAB_TEST_ORTHANC_DICOM_PORT FRACTURELAB_TEST_ORTHANC_AET
    ci_log "stopped the test Orthanc server"
}

# Install (when missing and possible) and start the test Orthanc; its stop is added to the
# caller's EXIT trap (after PostgreSQL's when that is already set).
ci_orthanc_up() {
    ci_orthanc_install
    ci_orthanc_start
}
