#!/usr/bin/env bash
# Fetch the pinned third-party browser assets from the npm registry into
# src/beamtime/static/vendor/, unmodified and with their licences.
# The files are committed; run this only to change a version.
set -euo pipefail

dest="$(cd "$(dirname "$0")/.." && pwd)/src/beamtime/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version  files or folders to keep (paths inside the package), copied side by side
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
        cp -R "$work/package/$f" "$dir/"
    done
    echo "$spec" > "$dir/VERSION"
    # Every file, folders included, in byte order: the same list a flat folder's glob gave.
    (cd "$dir" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum -- > SHA256SUMS)
}

fetch htmx.org@2.0.11 dist/htmx.min.js LICENSE
fetch plotly.js-dist-min@3.7.0 plotly.min.js LICENSE
fetch @picocss/pico@2.1.1 css/pico.min.css LICENSE.md
# The reduction page's module help: fonts/ beside the CSS, which names them relatively.
fetch katex@0.19.1 dist/katex.min.js dist/katex.min.css dist/contrib/auto-render.min.js dist/fonts LICENSE
