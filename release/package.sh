#!/usr/bin/env bash
# Makes the release archives and their SHA256SUMS from the binaries the build jobs made.
#
#   release/package.sh VERSION BIN_DIR OUT_DIR
#
# BIN_DIR holds TARGET/mailtrap-access (mailtrap-access.exe on Windows) for every target
# of release/targets.txt. MAILTRAP_ACCESS_DOCS_BIN is a mailtrap-access that runs on
# this machine: it writes the completions and man pages (the same for every target,
# since they come from the CLI's definition) and must report VERSION. Each archive is
# mailtrap-access-VERSION-TARGET.FORMAT, holding one folder of that name: the binary,
# README.md, LICENSE, CHANGELOG.md, completions/ and man/. The GitHub Action computes
# the same name; tests/release.rs runs both against each other.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 VERSION BIN_DIR OUT_DIR" >&2
  exit 1
fi
version=$1
bins=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
docs_bin=${MAILTRAP_ACCESS_DOCS_BIN:?set MAILTRAP_ACCESS_DOCS_BIN to a mailtrap-access that runs here}
# On PATH, so that the command lines below read as a user would type them.
PATH="$(cd "$(dirname "$docs_bin")" && pwd):$PATH"

# A binary of another version would put wrong docs in every archive.
reported=$(mailtrap-access --version)
if [[ "$reported " != "mailtrap-access $version "* ]]; then
  echo "the docs binary reports '$reported', not version $version" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
docs="$work/docs"
mkdir -p "$docs/completions" "$docs/man"
mailtrap-access completions bash > "$docs/completions/mailtrap-access.bash"
mailtrap-access completions zsh > "$docs/completions/_mailtrap-access"
mailtrap-access completions fish > "$docs/completions/mailtrap-access.fish"
mailtrap-access completions powershell > "$docs/completions/_mailtrap-access.ps1"
mailtrap-access completions elvish > "$docs/completions/mailtrap-access.elv"
mailtrap-access man --out "$docs/man" 2> /dev/null

archives=()
while read -r os arch target runs_on format; do
  case "$os" in '' | '#'*) continue ;; esac
  case "$target" in
    *-windows-*) exe=mailtrap-access.exe ;;
    *) exe=mailtrap-access ;;
  esac
  name="mailtrap-access-$version-$target"
  stage="$work/$name"
  mkdir -p "$stage"
  if [ ! -f "$bins/$target/$exe" ]; then
    echo "no binary for $target ($runs_on, $os $arch): $bins/$target/$exe" >&2
    exit 1
  fi
  # install sets the executable bit, which artifact uploads do not keep.
  install -m 755 "$bins/$target/$exe" "$stage/$exe"
  cp "$root/README.md" "$root/LICENSE" "$root/CHANGELOG.md" "$stage/"
  cp -R "$docs/completions" "$docs/man" "$stage/"
  case "$format" in
    tar.gz) tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name" ;;
    zip) (cd "$work" && zip -qr "$out/$name.zip" "$name") ;;
    *) echo "release/targets.txt: unknown archive format '$format' for $target" >&2; exit 1 ;;
  esac
  archives+=("$name.$format")
done < "$here/targets.txt"

(cd "$out" && sha256sum -- "${archives[@]}" > SHA256SUMS)
cat "$out/SHA256SUMS"
