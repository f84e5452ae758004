#!/usr/bin/env bash
# Fetch the pinned third-party browser assets from the npm registry into
# src/beamtime/static/vendor/, unmodified and with their licences.
# The files are committed; run this only to change a version.
set -euo pipefail

dest="$(cd "$(dirname "$0")/.." && pwd)/src/beamtime/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version  files-to-keep (paths inside the package)
fetch() {
    local spec="$1"; shift
    local name="${spec%@*}"
    local dir="$dest/${name##*/}"
    (cd "$work" && npm pack --silent "$spec" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    rm -rf "$work/package" "$dir"
    tar -xzf "$tarball" -C "$work"
    rm "$tarball"
    mkdir -p "$dir"
    for f in "$@"; do
        cp "$work/package/$f" "$dir/"
    done
    echo "$spec" > "$dir/VERSION"
    (cd "$dir" && sha256sum -- * > SHA256SUMS)
}

fetch htmx.org@2.0.11 dist/htmx.min.js LICENSE
fetch plotly.js-dist-min@3.7.0 plotly.min.js LICENSE
fetch @picocss/pico@2.1.1 css/pico.min.css LICENSE.md
