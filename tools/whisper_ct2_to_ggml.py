#!/usr/bin/env python3
"""Converts a Whisper model in the CTranslate2 (faster-whisper) format into the ggml file
that whisper.cpp (and so Rathaus's phone channel) loads.

The CTranslate2 file holds the weights; the mel filters and the tokenizer vocabulary come
from the `openai-whisper` source package. Usage:

    whisper_ct2_to_ggml.py MODEL.bin MEL_FILTERS.npz VOCAB.tiktoken OUT.bin

Only the layout changes: CTranslate2 fuses the attention projections (query, key and value
of self-attention; key and value of cross-attention) that whisper.cpp keeps apart, and
names tensors differently. Weights stay float16, vectors become float32 as whisper.cpp's
own converter writes them.
"""

import base64
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C
# CTranslate2's data type ids.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """The variables of a CTranslate2 model file (binary version 6), aliases resolved."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        (v,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v

    def string():
        nonlocal pos
        n = take("H")
        s = data[pos : pos + n - 1].decode("utf-8")
        pos += n
        return s

    version = take("I")
    if version != 6:
        sys.exit(f"unsupported CTranslate2 binary version {version} (expected 6)")
    spec = string()
    if spec != "WhisperSpec":
        sys.exit(f"not a Whisper model: {spec}")
    take("I")  # revision
    variables = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = take("B")
        size = take("I")
        if dtype not in DTYPES:
            sys.exit(f"{name}: unsupported data type {dtype}")
        array = np.frombuffer(data, dtype=DTYPES[dtype], count=size // np.dtype(DTYPES[dtype]).itemsize, offset=pos)
        variables[name] = array.reshape(shape) if shape else array
        pos += size
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if pos != len(data):
        sys.exit(f"{len(data) - pos} trailing bytes: the model file is damaged or incomplete")
    return variables


def whisper_tensors(v, n_audio_layer, n_text_layer):
    """(name, array) in whisper.cpp's names and layout."""
    out = []

    def linear(dst, src, bias=True):
        out.append((f"{dst}.weight", v[f"{src}/weight"]))
        if bias:
            out.append((f"{dst}.bias", v[f"{src}/bias"]))

    def norm(dst, src):
        out.append((f"{dst}.weight", v[f"{src}/gamma"]))
        out.append((f"{dst}.bias", v[f"{src}/beta"]))

    def split(dst_names, src, parts):
        """A fused projection split back into its parts; the key has no bias."""
        w, b = v[f"{src}/weight"], v[f"{src}/bias"]
        n = w.shape[0] // parts
        for i, dst in enumerate(dst_names):
            out.append((f"{dst}.weight", w[i * n : (i + 1) * n]))
            if not dst.endswith(".key"):
                out.append((f"{dst}.bias", b[i * n : (i + 1) * n]))

    out.append(("encoder.positional_embedding", v["encoder/position_encodings/encodings"]))
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        split([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0", 3)
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
    norm("encoder.ln_post", "encoder/layer_norm")

    out.append(("decoder.positional_embedding", v["decoder/position_encodings/encodings"]))
    out.append(("decoder.token_embedding.weight", v["decoder/embeddings/weight"]))
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        split([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0", 3)
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        split([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], f"{src}/attention/linear_1", 2)
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
    norm("decoder.ln", "decoder/layer_norm")
    return out


def count_layers(v, side):
    n = 0
    while f"{side}/layer_{n}/ffn/linear_0/weight" in v:
        n += 1
    return n


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    model, mel_path, vocab_path, out_path = sys.argv[1:]
    v = read_ct2(model)
    n_audio_layer, n_text_layer = count_layers(v, "encoder"), count_layers(v, "decoder")
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_head = int(v["encoder/num_heads"].reshape(-1)[0])
    n_text_head = int(v["decoder/num_heads"].reshape(-1)[0])
    filters = np.load(mel_path)[f"mel_{n_mels}"].astype(np.float32)
    with open(vocab_path, "rb") as f:
        tokens = [base64.b64decode(line.split()[0]) for line in f.read().splitlines() if line]

    with open(out_path, "wb") as out:
        out.write(struct.pack("<i", GGML_MAGIC))
        for h in (n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
                  n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, 1):
            out.write(struct.pack("<i", h))
        out.write(struct.pack("<ii", *filters.shape))
        out.write(filters.tobytes())
        out.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            out.write(struct.pack("<i", len(t)))
            out.write(t)
        tensors = whisper_tensors(v, n_audio_layer, n_text_layer)
        for name, data in tensors:
            data = np.asarray(data)
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(data.shape[0], 1)
            # As whisper.cpp's converter: vectors, conv biases and positions in float32.
            f32 = data.ndim < 2 or name.endswith("conv1.bias") or name.endswith("conv2.bias") or "positional" in name
            data = data.astype(np.float32 if f32 else np.float16)
            encoded = name.encode("utf-8")
            out.write(struct.pack("<iii", data.ndim, len(encoded), 0 if f32 else 1))
            for d in reversed(data.shape):
                out.write(struct.pack("<i", d))
            out.write(encoded)
            out.write(np.ascontiguousarray(data).tobytes())
    print(f"{out_path}: {len(tensors)} tensors, {n_audio_layer}+{n_text_layer} layers, "
          f"{n_vocab} tokens ({len(tokens)} in the vocabulary), {n_mels} mel bands")


if __name__ == "__main__":
    main()
