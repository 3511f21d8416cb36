"""The XLM-R model directory layout (fairseq's published xlmr.base / xlmr.large):
`model.pt` (fairseq checkpoint), `dict.txt`, `sentencepiece.bpe.model`."""

import argparse
import json
import os
import shutil
from typing import Dict, List, Sequence

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir, check_replaceable, dir_in_progress
from xtune_fairseq.core.text import not_utf8
from xtune_fairseq.core.data.readers import SPECIAL_SYMBOLS

REQUIRED_FILES = ("model.pt", "dict.txt", "sentencepiece.bpe.model")
# written only by write_model_dir, so that a rerun may replace its own output and nothing else
# (a published xlmr.base directory has the same three files)
MODEL_MARKER = "xtune-model.json"
MODEL_DIR = OutputDir("a model directory written by xtune-convert / xtune-make-tiny-model", MODEL_MARKER,
                      frozenset(REQUIRED_FILES + (MODEL_MARKER,)), ".tmp-xtune-model-")
# the encoder shape; copied from a pretrained checkpoint into the fine-tuning model
ARCH_KEYS = (
    "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
    "max_positions", "activation_fn", "encoder_normalize_before", "layernorm_embedding",
    "no_scale_embedding", "untie_weights_roberta", "encoder_learned_pos", "pooler_activation_fn",
)


def check_model_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise InputError(f"{path}: model directory not found")
    missing = [f for f in REQUIRED_FILES if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise InputError(f"{path}: model directory lacks {', '.join(missing)} (expected {', '.join(REQUIRED_FILES)})")
    check_dict_txt(os.path.join(path, "dict.txt"))
    load_sentencepiece(os.path.join(path, "sentencepiece.bpe.model"))


def check_dict_txt(path: str) -> None:
    """fairseq's Dictionary format, line by line: '<piece> <count> [#fairseq:overwrite]', each piece once
    (fairseq's own specials included), so that a bad line is named here, not a traceback in fairseq."""

    first = {}
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                piece, count, overwrite = _dict_entry(line.rstrip())
                if not count.lstrip("-").isdigit():
                    raise InputError(f"{path}:{lineno}: expected '<piece> <count>', got {line.rstrip()!r}")
                if piece in SPECIAL_SYMBOLS and not overwrite:
                    raise InputError(f"{path}:{lineno}: duplicate entry {piece!r} (fairseq adds "
                                     f"{', '.join(SPECIAL_SYMBOLS)} itself)")
                if piece in first and not overwrite:
                    raise InputError(f"{path}:{lineno}: duplicate entry {piece!r} (first at line {first[piece]})")
                first.setdefault(piece, lineno)
    except UnicodeDecodeError:
        raise not_utf8(path, "fairseq's dict.txt, '<piece> <count>' lines") from None


def _dict_entry(line: str):
    """(piece, count, overwrite) as fairseq's Dictionary.add_from_file splits a line."""
    piece, _, count = line.rpartition(" ")
    overwrite = count == "#fairseq:overwrite"
    if overwrite:
        piece, _, count = piece.rpartition(" ")
    return piece, count, overwrite


def load_sentencepiece(path: str):
    """The sentencepiece model at `path`; a file that is not one is an InputError, not a C++ traceback."""
    import sentencepiece as spm  # late: start-up time

    try:
        return spm.SentencePieceProcessor(model_file=path)
    except (RuntimeError, OSError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: not a sentencepiece model ({reason})") from None


def model_args_of(state: dict, where: str) -> Dict[str, object]:
    """The model's hyper-parameters from a fairseq checkpoint (new `cfg` or legacy `args`)."""
    src = None
    if state.get("cfg") is not None:
        src = state["cfg"]["model"] if "model" in state["cfg"] else None
    if src is None and state.get("args") is not None:
        src = state["args"]
    if src is None:
        raise InputError(f"{where}: checkpoint has neither cfg.model nor args; not a fairseq checkpoint")
    items = vars(src) if isinstance(src, argparse.Namespace) else dict(src)
    if "model" not in state:
        raise InputError(f"{where}: checkpoint has no 'model' weights")
    return items


def write_dict_txt(pieces: Sequence[str], path: str) -> None:
    """fairseq dict.txt for sentencepiece pieces 3.. (fairseq id = sentencepiece id + 1)."""
    with open(path, "w", encoding="utf-8") as f:
        for piece in pieces:
            f.write(f"{piece} 1\n")


def read_dict_pieces(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rsplit(" ", 1)[0] for line in f if line.strip()]


def check_model_out(out_dir: str, inputs: Sequence[str] = (), force: bool = False) -> None:
    """Fails early, before a long conversion, where write_model_dir would refuse out_dir."""
    check_replaceable(out_dir, "--out", MODEL_DIR, inputs, force)


def write_model_dir(out_dir: str, state: dict, sp_model: str, pieces: Sequence[str], inputs: Sequence[str] = (),
                    force: bool = False) -> None:
    """Writes the three files and our marker into a temporary sibling folder, then renames it into
    place (files.dir_in_progress); inputs: what the model was made from, never to be replaced."""
    import torch  # late: torch: start-up time

    with dir_in_progress(out_dir, "--out", MODEL_DIR, [sp_model, *inputs], force) as tmp:
        torch.save(state, os.path.join(tmp, "model.pt"))
        write_dict_txt(pieces, os.path.join(tmp, "dict.txt"))
        shutil.copyfile(sp_model, os.path.join(tmp, "sentencepiece.bpe.model"))
        with open(os.path.join(tmp, MODEL_MARKER), "w") as f:
            json.dump({"format": 1, "pieces": len(pieces)}, f)
