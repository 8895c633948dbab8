#!/usr/bin/env bash
# make run: the quick start. Applies the example estate (a second run changes
# nothing) and serves keyward on it until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=examples/quickstart/keyward.yaml
bin=./bin/keyward
mkdir -p examples/quickstart/data
"$bin" -c "$cfg" apply -f examples/quickstart/estate.yaml --by quickstart
addr=$(awk '/addr:/ {print $2; exit}' "$cfg")
cat <<TEXT

keyward is starting on http://$addr (Ctrl-C stops it).
  health:   curl -s http://$addr/healthz
  metrics:  curl -s http://$addr/metrics | grep keyward_
  estate:   $bin -c $cfg apply -f examples/quickstart/estate.yaml --dry-run
  audit:    $bin -c $cfg audit verify

TEXT
exec "$bin" -c "$cfg" serve
