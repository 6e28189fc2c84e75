#!/usr/bin/env bash
# Prints release/targets.txt as the build matrix of the release workflow, one JSON line:
#   {"include":[{"target":"x86_64-unknown-linux-musl","runs-on":"ubuntu-latest","archive":"tar.gz"},...]}
set -euo pipefail
targets="$(dirname "$0")/targets.txt"
awk '
  /^[[:space:]]*(#|$)/ { next }
  NF != 5 { printf "release/targets.txt line %d: %d columns, not 5\n", NR, NF > "/dev/stderr"; bad = 1; exit 1 }
  {
    rows = rows (rows == "" ? "" : ",") \
      sprintf("{\"target\":\"%s\",\"runs-on\":\"%s\",\"archive\":\"%s\"}", $3, $4, $5)
  }
  END { if (bad || rows == "") exit 1; printf "{\"include\":[%s]}\n", rows }
' "$targets"
