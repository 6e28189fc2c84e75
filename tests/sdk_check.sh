#!/usr/bin/env bash
# Run tests/sdk_check.py: Mailtrap's official Python SDK against the sandbox binary.
# Creates a venv under target/sdk-venv with the SDK pinned in tests/requirements-sdk.txt
# (reinstalled when that file changes), builds the binary if needed, runs the check.
# Without python3 it skips, exiting 0 with a message.
set -euo pipefail

if ! command -v python3 >/dev/null 2>&1; then
    echo "sdk_check: python3 not found, skipping the SDK check"
    exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

venv="$target/sdk-venv"
requirements="$root/tests/requirements-sdk.txt"
stamp="$venv/.requirements-sdk.txt"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

(cd "$root" && cargo build --quiet --bin mailtrap-access)
exec "$venv/bin/python" "$root/tests/sdk_check.py" "$target/debug/mailtrap-access"
