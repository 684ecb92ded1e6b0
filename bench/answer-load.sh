#!/usr/bin/env bash
# Load benchmark for POST /api/v1/answer (with GET /healthz as the baseline).
#
# Builds rathaus (release), imports the Munich DLDB catalogue into a fresh SQLite database in a
# temporary directory, starts `rathaus serve` on a free loopback port, and runs wrk against
# /healthz and then /api/v1/answer. Prints wrk's latency distribution for each, the server's
# memory before and after, and a side-by-side summary. Traffic goes to 127.0.0.1 only, and
# every step has a time limit. See bench/README.md.
#
# Environment (all optional):
#   DURATION=20          seconds of load per endpoint
#   THREADS=2            wrk threads
#   CONNECTIONS=64       wrk connections (open HTTP keep-alive connections)
#   WRK_TIMEOUT=10       seconds before wrk counts a request as timed out
#   RATHAUS_BIN=PATH     use this binary instead of building one
#   MUNICH_DIR=DIR       the DLDB export (services_de.json, locations_de.json);
#                        default: ../shared/data/munich
#                        (relative paths in both are taken from the repository root)
#   PORT=N               listen on this loopback port instead of a free one picked at random
#   RUST_LOG=…           server log filter (default here: warn, so logging does not dominate)
#   KEEP_TMP=1           keep the temporary directory (database, server log, wrk output)
#   BUILD_TIMEOUT=1800 IMPORT_TIMEOUT=600 STARTUP_TIMEOUT=120   limits in seconds
#
# Exit status: 0 on a clean run; 2 when the run finished but some requests failed (HTTP >= 400,
# socket errors, timeouts: the figures then include them); 1 on any other failure.
set -euo pipefail

DURATION=${DURATION:-20}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
IMPORT_TIMEOUT=${IMPORT_TIMEOUT:-600}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-120}

die() { printf 'answer-load: %s\n' "$*" >&2; exit 1; }
log() { printf '\n== %s\n' "$*"; }

for var in DURATION THREADS CONNECTIONS WRK_TIMEOUT BUILD_TIMEOUT IMPORT_TIMEOUT STARTUP_TIMEOUT; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
(( CONNECTIONS >= THREADS )) || die "CONNECTIONS ($CONNECTIONS) must be at least THREADS ($THREADS)"

# --- tools --------------------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 \
  || die "wrk is not installed. Install it with: apt-get install wrk   (this script installs nothing)"
for tool in timeout awk mktemp; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not installed"
done

# --- paths --------------------------------------------------------------------------------------
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$BENCH_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$BENCH_DIR/.." && pwd))
LUA_SCRIPT=$BENCH_DIR/answer.lua
[[ -f $LUA_SCRIPT ]] || die "missing $LUA_SCRIPT"

# Relative paths in MUNICH_DIR and RATHAUS_BIN are taken relative to the repository root.
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }

MUNICH_DIR=$(abspath "${MUNICH_DIR:-../shared/data/munich}")
MUNICH_DIR=$(cd "$MUNICH_DIR" 2>/dev/null && pwd || printf '%s\n' "$MUNICH_DIR")
SERVICES=$MUNICH_DIR/services_de.json
LOCATIONS=$MUNICH_DIR/locations_de.json
[[ -f $SERVICES && -f $LOCATIONS ]] \
  || die "DLDB export not found: expected services_de.json and locations_de.json in $MUNICH_DIR (set MUNICH_DIR)"

# Every path above is absolute; the server runs from the repository root (default ./knowledge).
cd "$ROOT"

# Long-running steps run in the background and are waited for, so that Ctrl-C or a TERM from a
# CI time limit reaches the traps at once (bash runs traps only after a foreground command ends).
CHILD_PID=
run_child() {
  "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  return "$rc"
}

# --- binary -------------------------------------------------------------------------------------
if [[ -n ${RATHAUS_BIN:-} ]]; then
  BIN=$(abspath "$RATHAUS_BIN")
  log "using RATHAUS_BIN=$BIN"
else
  log "building rathaus (cargo build --release, at most ${BUILD_TIMEOUT}s)"
  run_child timeout "$BUILD_TIMEOUT" cargo build --release --bin rathaus \
    || die "cargo build failed or took longer than ${BUILD_TIMEOUT}s"
  target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
  case $target_dir in /*) ;; *) target_dir=$ROOT/$target_dir ;; esac
  BIN=$target_dir/release/rathaus
fi
[[ -x $BIN ]] || die "not an executable: $BIN"

# --- temporary directory, cleanup ---------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rathaus-bench.XXXXXX")
SERVER_PID=
cleanup() {
  local rc=$?
  if [[ -n ${CHILD_PID:-} ]]; then
    kill -TERM "$CHILD_PID" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
  fi
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    printf 'answer-load: kept %s\n' "$TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log_tail() {
  if [[ -s $TMP/server.log ]]; then
    printf -- '--- last lines of the server log ---\n' >&2
    tail -n 30 "$TMP/server.log" >&2
  fi
}

DB_FILE=$TMP/rathaus.db
DB_URL=sqlite://$DB_FILE
# An empty file is a valid empty SQLite database; creating it spares the server a create flag.
: > "$DB_FILE"

# --- import -------------------------------------------------------------------------------------
log "importing the DLDB catalogue from $MUNICH_DIR"
import_start=$SECONDS
run_child timeout "$IMPORT_TIMEOUT" "$BIN" import dldb \
    --services "$SERVICES" --locations "$LOCATIONS" --database "$DB_URL" \
  || die "import failed or took longer than ${IMPORT_TIMEOUT}s"
printf 'import took %ss; database %s KiB\n' "$((SECONDS - import_start))" "$(( $(stat -c %s "$DB_FILE") / 1024 ))"

# --- HTTP over bash's /dev/tcp (no curl needed) -------------------------------------------------
# http_request METHOD PATH [JSON_BODY]: prints the whole response (status line, headers, body).
http_request() {
  local method=$1 path=$2 body=${3:-}
  local length
  length=$(LC_ALL=C; printf '%s' "${#body}")
  # shellcheck disable=SC2016  # the inner script gets its values as positional parameters
  timeout 15 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    if [[ -n $4 ]]; then
      printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s" "$2" "$3" "$5" "$4" >&3
    else
      printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" "$3" >&3
    fi
    cat <&3
  ' _ "$PORT" "$method" "$path" "$body" "$length" 2>/dev/null
}
http_status() { http_request "$@" | head -n 1 | awk '{print $2}'; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- server -------------------------------------------------------------------------------------
if [[ -z ${PORT:-} ]]; then
  for _ in $(seq 50); do
    candidate=$(( 20000 + RANDOM % 40000 ))
    if ! port_in_use "$candidate"; then PORT=$candidate; break; fi
  done
  [[ -n ${PORT:-} ]] || die "found no free loopback port"
elif port_in_use "$PORT"; then
  die "port $PORT on 127.0.0.1 is already in use"
fi
BASE_URL=http://127.0.0.1:$PORT

log "starting rathaus serve on 127.0.0.1:$PORT"
# One client sends every request: the per-address limit on messages is off for the measurement.
RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --listen "127.0.0.1:$PORT" --database "$DB_URL" \
  --limit-messages-per-minute 0 > "$TMP/server.log" 2>&1 &
SERVER_PID=$!

startup_start=$SECONDS
until [[ $(http_status GET /healthz || true) == 200 ]]; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    server_log_tail; SERVER_PID=; die "the server exited during startup"
  fi
  if (( SECONDS - startup_start >= STARTUP_TIMEOUT )); then
    server_log_tail; die "/healthz did not answer 200 within ${STARTUP_TIMEOUT}s"
  fi
  sleep 0.2
done
printf 'server pid %s ready after %ss\n' "$SERVER_PID" "$((SECONDS - startup_start))"

# --- memory and CPU of the server process -------------------------------------------------------
proc_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }  # utime + stime
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

RSS_IDLE=$(proc_kib "$SERVER_PID" VmRSS)
log "memory before load"
printf 'VmRSS (idle): %s\n' "$(mib "$RSS_IDLE")"

# --- one request by hand: the endpoint must answer, or the benchmark measures errors -----------
log "sanity check: POST /api/v1/answer"
sample=$(http_request POST /api/v1/answer '{"q":"Was kostet ein Reisepass für Kinder?","lang":"de"}' || true)
sample_status=$(printf '%s\n' "$sample" | head -n 1 | awk '{print $2}')
printf '%s\n' "$sample" | awk 'body {print; n += length($0); if (n > 600) exit} /^\r?$/ {body = 1}' | cut -c1-300
if [[ $sample_status != 200 ]]; then
  printf '%s\n' "$sample" | head -n 1 >&2
  server_log_tail
  die "POST /api/v1/answer answered '${sample_status:-nothing}', expected 200"
fi

# --- load ---------------------------------------------------------------------------------------
# run_wrk LABEL MODE PATH: runs wrk, prints its output, leaves the RESULT line in $TMP/LABEL.result
run_wrk() {
  local label=$1 mode=$2 path=$3
  local cpu_before cpu_after
  log "wrk: $label — ${DURATION}s, $THREADS threads, $CONNECTIONS connections, $BASE_URL$path"
  cpu_before=$(cpu_ticks "$SERVER_PID")
  BENCH_MODE=$mode BENCH_LABEL=$label run_child timeout $(( DURATION + WRK_TIMEOUT + 30 )) \
    wrk --threads "$THREADS" --connections "$CONNECTIONS" --duration "${DURATION}s" \
        --timeout "${WRK_TIMEOUT}s" --latency --script "$LUA_SCRIPT" "$BASE_URL$path" \
    > "$TMP/$label.wrk" 2>&1 \
    || { cat "$TMP/$label.wrk"; die "wrk failed or overran for $label"; }
  cat "$TMP/$label.wrk"
  kill -0 "$SERVER_PID" 2>/dev/null || { server_log_tail; SERVER_PID=; die "the server died during the $label run"; }
  cpu_after=$(cpu_ticks "$SERVER_PID")
  grep '^RESULT ' "$TMP/$label.wrk" > "$TMP/$label.result" || die "no RESULT line from wrk for $label"
  printf ' server_cpu_s=%s\n' "$(awk -v t=$((cpu_after - cpu_before)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}')" \
    >> "$TMP/$label.result"
  printf 'server RSS now: %s\n' "$(mib "$(proc_kib "$SERVER_PID" VmRSS)")"
}

run_wrk healthz get /healthz
run_wrk answer answer /api/v1/answer

RSS_AFTER=$(proc_kib "$SERVER_PID" VmRSS)
RSS_PEAK=$(proc_kib "$SERVER_PID" VmHWM)
THREADS_SERVER=$(proc_kib "$SERVER_PID" Threads)
log "memory after load"
printf 'VmRSS (after): %s   VmHWM (peak): %s   growth: %s   server threads: %s\n' \
  "$(mib "$RSS_AFTER")" "$(mib "$RSS_PEAK")" "$(mib $((RSS_AFTER - RSS_IDLE)))" "$THREADS_SERVER"

# --- summary ------------------------------------------------------------------------------------
log "summary (${DURATION}s each, $THREADS threads, $CONNECTIONS connections, wrk and server share $(nproc) cores)"
awk -v h="$(tr '\n' ' ' < "$TMP/healthz.result")" -v a="$(tr '\n' ' ' < "$TMP/answer.result")" \
    -v rss_idle="$RSS_IDLE" -v rss_after="$RSS_AFTER" -v rss_peak="$RSS_PEAK" '
  function field(line, key,   n, i, parts, kv) {
    n = split(line, parts, " ")
    for (i = 1; i <= n; i++) { split(parts[i], kv, "="); if (kv[1] == key) return kv[2] }
    return ""
  }
  function ratio(x, y) { return (y + 0 > 0) ? sprintf("%.3f", x / y) : "n/a" }
  function per_request_ms(line,   n) { n = field(line, "requests") + 0; return n > 0 ? field(line, "server_cpu_s") * 1000 / n : 0 }
  BEGIN {
    n = split("rps p50_ms p90_ms p99_ms p999_ms max_ms requests errors_status errors_socket errors_timeout server_cpu_s", keys, " ")
    printf "%-16s %14s %14s %15s\n", "", "GET /healthz", "POST answer", "answer/healthz"
    for (i = 1; i <= n; i++) {
      k = keys[i]
      r = (k ~ /^errors/ || k == "requests" || k == "server_cpu_s") ? "" : ratio(field(a, k), field(h, k))
      printf "%-16s %14s %14s %15s\n", k, field(h, k), field(a, k), r
    }
    ch = per_request_ms(h); ca = per_request_ms(a)
    printf "%-16s %14.4f %14.4f %15s\n", "cpu_ms/request", ch, ca, ratio(ca, ch)
    printf "\nserver RSS: idle %.1f MiB, after load %.1f MiB, peak %.1f MiB\n", rss_idle / 1024, rss_after / 1024, rss_peak / 1024
  }'

errors=$(cat "$TMP/healthz.result" "$TMP/answer.result" | tr ' ' '\n' | awk -F= '$1 ~ /^errors_/ {s += $2} END {print s + 0}')
if (( errors > 0 )); then
  printf '\nanswer-load: WARNING: %s requests failed (HTTP >= 400, socket errors or timeouts); the figures above include them.\n' "$errors" >&2
  grep -h 'Non-2xx\|Socket errors' "$TMP/healthz.wrk" "$TMP/answer.wrk" >&2 || true
  exit 2
fi
