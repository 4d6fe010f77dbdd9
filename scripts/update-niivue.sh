#!/usr/bin/env bash
# Refresh the NiiVue bundle vendored into the workstation's static files.
#
#   scripts/update-niivue.sh            # the pinned version below
#   scripts/update-niivue.sh 0.70.0     # another version (then check the viewer still works)
#
# Fetches @niivue/niivue with `npm pack` (no install, no scripts run), copies the UMD bundle
# dist/niivue.umd.js -- a single file that loads offline without fetching further chunks --
# into src/fracturelab/workstation/server/static/vendor/niivue/, and prints its SHA-256.
# The npm package ships no LICENSE file; the BSD-2-Clause text of NiiVue is kept in that
# folder and the script refuses to continue if the package's declared license changes.
set -euo pipefail

VERSION="${1:-0.69.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/fracturelab/workstation/server/static/vendor/niivue"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "error: npm is needed (apt-get install npm)" >&2; exit 1; }

echo "fetching @niivue/niivue@$VERSION ..."
(cd "$WORK" && npm pack --silent "@niivue/niivue@$VERSION" >/dev/null)
tar -xzf "$WORK/niivue-niivue-$VERSION.tgz" -C "$WORK"
PKG="$WORK/package"
BUNDLE="$PKG/dist/niivue.umd.js"

[ -f "$BUNDLE" ] || { echo "error: $VERSION has no dist/niivue.umd.js; pick the bundle by hand" >&2; exit 1; }
LICENSE_ID="$(node -e 'console.log(require(process.argv[1]).license)' "$PKG/package.json")"
if [ "$LICENSE_ID" != "BSD-2-Clause" ]; then
    echo "error: the package now declares license '$LICENSE_ID'; review it before vendoring" >&2
    exit 1
fi
# The bundle must be self-contained: no dynamic import() of further chunks, no workers.
if grep -q -e 'import(' -e 'new Worker(' "$BUNDLE"; then
    echo "error: dist/niivue.umd.js loads further chunks or workers; it would not work offline" >&2
    exit 1
fi

mkdir -p "$DEST"
cp "$BUNDLE" "$DEST/niivue.umd.js"
if [ -f "$PKG/LICENSE" ]; then
    cp "$PKG/LICENSE" "$DEST/LICENSE"
fi
echo "$VERSION" > "$DEST/VERSION"

echo "vendored @niivue/niivue $VERSION into ${DEST#"$ROOT"/}"
(cd "$DEST" && sha256sum niivue.umd.js)
echo "dependencies bundled into it (list their licenses in $DEST/README.md):"
node -e 'const d = require(process.argv[1]).dependencies || {}; for (const [n, v] of Object.entries(d)) console.log(`  ${n} ${v}`)' "$PKG/package.json"
