#!/usr/bin/env bash
# Test-only (make bench): workerd with the V8 flags in M2M_V8_FLAGS, for
# MINIFLARE_WORKERD_PATH. v8-flags.mjs sets them in the configuration
# Miniflare sends on stdin; then this script becomes workerd itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workerd="$(cd "$here/../.." && node -p 'require("workerd").default' 2>/dev/null || true)"
[ -x "$workerd" ] || workerd="$here/../../node_modules/@cloudflare/workerd-linux-64/bin/workerd"
exec "$workerd" "$@" < <(node "$here/v8-flags.mjs")
