#!/usr/bin/env bash
# Holds CONNECTIONS (default 1000) widget connections open against a release build of
# Rathaus and prints the server's memory. Raises the open-files limit to the hard limit first.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked
CONNECTIONS="${CONNECTIONS:-1000}" cargo bench --locked --bench widget_connections
