"""A sentencepiece unigram ModelProto from pieces, scores and a normaliser charsmap
(how the XLM-R tokenizer is rebuilt from a tokenizer.json / E5S1 vocabulary)."""

import base64
import json
from typing import Sequence

from xtune_fairseq.core.errors import InputError


def charsmap_from_tokenizer_json(path: str) -> bytes:
    """The `precompiled_charsmap` of a HuggingFace XLM-R tokenizer.json (its nmt_nfkc normaliser)."""
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    stack = [tok.get("normalizer")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Precompiled":
                return base64.b64decode(node["precompiled_charsmap"])
            stack.extend(node.get("normalizers", []))
    raise InputError(f"{path}: no Precompiled normaliser (precompiled_charsmap) found")


def unigram_model_bytes(pieces: Sequence[str], scores: Sequence[float], charsmap: bytes) -> bytes:
    """pieces[0..2] must be <unk>, <s>, </s> (sentencepiece ids 0, 1, 2 as in XLM-R)."""
    from sentencepiece import sentencepiece_model_pb2 as pb  # late: start-up time

    if list(pieces[:3]) != ["<unk>", "<s>", "</s>"]:
        raise InputError(f"expected <unk>, <s>, </s> as the first pieces, got {list(pieces[:3])}")
    m = pb.ModelProto()
    for i, (piece, score) in enumerate(zip(pieces, scores)):
        sp = m.pieces.add()
        sp.piece, sp.score = piece, float(score)
        sp.type = pb.ModelProto.SentencePiece.UNKNOWN if i == 0 else (
            pb.ModelProto.SentencePiece.CONTROL if i < 3 else pb.ModelProto.SentencePiece.NORMAL)
    ts = m.trainer_spec
    ts.model_type = pb.TrainerSpec.UNIGRAM
    ts.vocab_size = len(pieces)
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = 0, 1, 2, -1
    ns = m.normalizer_spec
    ns.name = "nmt_nfkc"
    ns.precompiled_charsmap = charsmap
    ns.add_dummy_prefix = True
    ns.remove_extra_whitespaces = True
    ns.escape_whitespaces = True
    return m.SerializeToString()
