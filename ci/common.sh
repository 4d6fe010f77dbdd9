# shellcheck shell=bash
# Helpers of the CI scripts (ci/services.sh, ci/orthanc.sh): log lines and running as root.

ci_log() { printf 'ci: %s\n' "$*" >&2; }
ci_warn() { printf 'ci: WARNING: %s\n' "$*" >&2; }

# Run a command as root: directly when we are root, else with password-less sudo.
ci_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

ci_can_be_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}
