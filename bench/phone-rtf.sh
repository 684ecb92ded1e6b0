#!/usr/bin/env bash
# Real-time factor of the phone channel's speech to text: time spent transcribing divided
# by the length of the audio (below 1 is faster than the caller speaks). Synthesises
# utterances with espeak-ng, sends them through sox as 8 kHz µ-law (what telephony systems
# send), transcribes them with `rathaus phone transcribe` (release build, the model from
# tools/whisper-model.sh) and prints each file's figure and the total.
#
#   THREADS=2 bench/phone-rtf.sh
#   RATHAUS_BIN=target/debug/rathaus bench/phone-rtf.sh   # a binary already built (whisper.cpp
#                                                         # is built optimised in both profiles)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"
model="$(tools/whisper-model.sh)"
bin="${RATHAUS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin rathaus
  bin=target/release/rathaus
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
db="sqlite://$work/bench.db"
"$bin" --database "$db" import files knowledge >/dev/null

i=0
while IFS='|' read -r voice text; do
  i=$((i + 1))
  espeak-ng -v "$voice" -s 140 -w "$work/$i.wav" "$text"
  sox "$work/$i.wav" -r 8000 -c 1 -e u-law -t raw "$work/$i-$voice.ul"
done <<'UTTERANCES'
de|Guten Tag, ich möchte meinen Personalausweis verlängern. Was muss ich dazu mitbringen?
de|Ich habe meinen Führerschein verloren, was soll ich jetzt tun?
de|Wann wird bei uns in der Straße der Sperrmüll abgeholt und was kostet das?
en|How much does a new passport cost, and how long does it take?
en|I moved to a new flat last week. How do I register my new address?
UTTERANCES

echo "model: $model, threads: $threads, $(nproc) cores"
for f in "$work"/*.ul; do
  lang="${f##*-}"; lang="${lang%.ul}"; lang="${lang%%-*}"
  "$bin" --database "$db" phone transcribe --model "$model" \
    --threads "$threads" --lang "$lang" "$f"
done | tee "$work/out.txt" | grep -E "^(==|heard|audio)"
awk '/^audio:/ { a += $2; t += $6 } END { printf "total: %.1f s of audio transcribed in %.1f s: real-time factor %.2f\n", a, t, t / a }' "$work/out.txt"
