#!/usr/bin/env bash
# Install whatever the build and the tests need and is missing, at the
# versions the lock files ask for. Every step is skipped when already done,
# so a second run costs a few version checks.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

lock_version() { # the version of crate $1 in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

WORKER_VERSION="$(lock_version worker)"
BINDGEN_VERSION="$(lock_version wasm-bindgen)"
if [ -z "$WORKER_VERSION" ] || [ -z "$BINDGEN_VERSION" ]; then
  echo "ensure-tools: cannot read worker / wasm-bindgen versions from Cargo.lock" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# clippy and rustfmt, for `make lint` (part of `make test`).
if ! cargo clippy --version > /dev/null 2>&1; then
  echo "==> rustup component add clippy"
  rustup component add clippy
fi
if ! cargo fmt --version > /dev/null 2>&1; then
  echo "==> rustup component add rustfmt"
  rustup component add rustfmt
fi

# worker-build must match the worker crate .
if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_VERSION" ]; then
  echo "==> cargo install worker-build $WORKER_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_VERSION" --locked --force
fi

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock.
# Without --locked: one of its locked dependencies is missing from the mirror.
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $BINDGEN_VERSION" ]; then
  echo "==> cargo install wasm-bindgen-cli $BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --force
fi

# npm packages: wrangler, miniflare, esbuild, binaryen (wasm-opt), jose.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

# Python packages for `make test`, in a virtual environment under the
# project, at the versions the requirements files pin: schemathesis
# (tests/api), and Authlib with requests, a client library the e2e tests
# run against the worker (tests/e2e).
if [ ! -x .venv/bin/st ] || [ tests/api/requirements.txt -nt .venv/.installed ] \
  || [ tests/e2e/requirements.txt -nt .venv/.installed ]; then
  echo "==> pip install -r tests/api/requirements.txt -r tests/e2e/requirements.txt (into .venv)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/api/requirements.txt -r tests/e2e/requirements.txt
  touch .venv/.installed
fi
