#!/usr/bin/env bash
# squib's main job on a fresh machine: start squib, configure a microVM through
# the API with curl, and show its configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
SOCK=$(mktemp -u /tmp/squib-demo.XXXXXX.sock)
./build/squib --api-sock "$SOCK" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$SOCK"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.02; done
api() { curl -sS --unix-socket "$SOCK" -X "$1" "http://localhost$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; echo; }
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
api GET /machine-config
api GET /
