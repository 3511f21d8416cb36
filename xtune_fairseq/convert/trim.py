"""Vocabulary trimming: keep the embedding rows of pieces that the given text can use.

The sentencepiece model is kept whole, so text segments exactly as before; a piece that is
no longer in dict.txt maps to <unk>. Every piece of every segmentation of a corpus word is
kept (not only the best one), so subword sampling on that text never hits <unk> either.
"""

import os
from typing import Iterable, Set

import torch

from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.xlmr_dir import check_model_dir, check_model_out, read_dict_pieces, write_model_dir

EMBED = "encoder.sentence_encoder.embed_tokens.weight"
N_SPECIAL = 4  # <s> <pad> </s> <unk> before dict.txt's pieces; <mask> after them


def pieces_for(sp_model: str, texts: Iterable[str]) -> Set[str]:
    sampler = SubwordSampler(sp_model, ratio=0.0)
    words = {w for text in texts for w in text.split()}
    keep: Set[str] = set()
    for word in words:
        keep |= sampler.lattice_pieces(word)
    return keep


def trim_model_dir(src: str, out: str, texts: Iterable[str], force: bool = False, inputs: Iterable[str] = ()) -> dict:
    """inputs: the files texts come from (with src, never replaced by out)."""
    inputs = [src, *inputs]
    check_model_dir(src)
    check_model_out(out, inputs, force)
    sp_model = os.path.join(src, "sentencepiece.bpe.model")
    keep = pieces_for(sp_model, texts)
    pieces = read_dict_pieces(os.path.join(src, "dict.txt"))
    state = safe_load(os.path.join(src, "model.pt"))
    weights = state["model"]
    rows_before = weights[EMBED].size(0)
    if rows_before < N_SPECIAL + len(pieces):
        raise InputError(f"{src}: model.pt has {rows_before} embedding rows for {len(pieces)} dict.txt pieces")
    kept = [i for i, p in enumerate(pieces) if p in keep]
    mask_rows = list(range(N_SPECIAL + len(pieces), rows_before))[:1]  # <mask>, when the model has it
    rows = torch.tensor(list(range(N_SPECIAL)) + [N_SPECIAL + i for i in kept] + mask_rows)
    weights[EMBED] = weights[EMBED][rows].clone()
    if "encoder.lm_head.weight" in weights:
        weights["encoder.lm_head.weight"] = weights[EMBED]
    if "encoder.lm_head.bias" in weights:
        weights["encoder.lm_head.bias"] = weights["encoder.lm_head.bias"][rows].clone()
    write_model_dir(out, state, sp_model, [pieces[i] for i in kept], inputs, force)
    return {"pieces_before": len(pieces), "pieces_after": len(kept), "rows_before": rows_before,
            "rows_after": len(rows)}
