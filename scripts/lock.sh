#!/usr/bin/env bash
# Regenerate constraints.txt: the exact versions of every package a fresh install with all
# extras resolves to today. CI installs from it, so that a run is reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e '.[test,ldap]'
{
    echo "# Exact versions CI installs (pip install -c constraints.txt -e '.[test]'); regenerate with"
    echo "# scripts/lock.sh after changing a dependency in pyproject.toml."
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^beamtime'
} > constraints.txt
