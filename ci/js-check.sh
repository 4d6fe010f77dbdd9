#!/usr/bin/env bash
# Type check of the workstation's front end (src/fracturelab/workstation/server/static/*.js):
# TypeScript's tsc reads the JSDoc types of the plain ES modules and emits nothing.
#
#   ci/js-check.sh        # or: make js-check (part of make lint)
#
# The first run installs TypeScript, pinned in package-lock.json, from the npm registry into
# ./node_modules (npm ci); later runs need no network. Without node and npm the check is
# skipped with a warning (the Python checks still run).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "js-check: WARNING: node or npm is missing, so the workstation's JavaScript was NOT" \
    "type-checked; install them (apt-get install nodejs npm) to run this check" >&2
  exit 0
fi
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "js-check: installing TypeScript from package-lock.json into node_modules/ (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc -p ci/js/tsconfig.json
echo "js-check: the workstation's JavaScript type-checks"
