"""A HuggingFace XLM-R checkpoint directory (config.json, model.safetensors or pytorch_model.bin,
sentencepiece.bpe.model: the layout of xlm-roberta-base) -> an XLM-R-format directory."""

import os
from typing import Dict

import numpy as np

from xtune_fairseq.convert.fairseq_roberta import bert_to_fairseq, roberta_args, write_converted
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import read_json
from xtune_fairseq.core.xlmr_dir import check_model_out, load_sentencepiece
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load

_LAYER = {
    "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
    "attention.output.dense": "ao", "attention.output.LayerNorm": "aln",
    "intermediate.dense": "fi", "output.dense": "fo", "output.LayerNorm": "oln",
}


def load_hf_tensors(hf_dir: str) -> Dict[str, np.ndarray]:
    st = os.path.join(hf_dir, "model.safetensors")
    pt = os.path.join(hf_dir, "pytorch_model.bin")
    if os.path.isfile(st):
        from safetensors import SafetensorError  # late: optional dependency
        from safetensors.numpy import load_file  # late: optional dependency

        try:
            tensors = load_file(st)
        except (SafetensorError, OSError, ValueError, TypeError) as e:  # e.g. 'header too large': not safetensors
            raise InputError(f"{st}: not a readable safetensors file ({e}); expected the weights of a HuggingFace "
                             "XLM-R checkpoint") from None
    elif os.path.isfile(pt):
        tensors = {k: v.float().numpy() for k, v in safe_load(pt).items()}
    else:
        raise InputError(f"{hf_dir}: neither model.safetensors nor pytorch_model.bin")
    return {k[len("roberta."):] if k.startswith("roberta.") else k: v for k, v in tensors.items()}


def hf_to_canonical(t: Dict[str, np.ndarray], layers: int, pad_offset: int = 2) -> Dict[str, np.ndarray]:
    """HF names -> the BERT-style names fairseq_roberta.bert_to_fairseq reads. HF's XLM-R
    positions already start at padding_idx + 1, so the first rows are dropped here."""
    def get(name):
        if name not in t:
            raise InputError(f"HF checkpoint lacks {name}")
        return t[name]

    out = {
        "emb.word": get("embeddings.word_embeddings.weight"),
        "emb.pos": get("embeddings.position_embeddings.weight")[pad_offset:],
        "emb.type": get("embeddings.token_type_embeddings.weight"),
        "emb.ln.w": get("embeddings.LayerNorm.weight"),
        "emb.ln.b": get("embeddings.LayerNorm.bias"),
    }
    for i in range(layers):
        for src, dst in _LAYER.items():
            out[f"l{i}.{dst}.w"] = get(f"encoder.layer.{i}.{src}.weight")
            out[f"l{i}.{dst}.b"] = get(f"encoder.layer.{i}.{src}.bias")
    return out


CONFIG_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
               "max_position_embeddings")


def _read_config(path: str) -> dict:
    """config.json: a JSON object with XLM-R's integer shape keys, or an InputError naming the file."""
    expected = f"a HuggingFace config: a JSON object with {', '.join(CONFIG_KEYS)}"
    cfg = read_json(path, expected)
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: a JSON {type(cfg).__name__}; expected {expected}")
    for key in CONFIG_KEYS:
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] < 1:
            raise InputError(f"{path}: {key} is {cfg.get(key, 'missing')!r}; expected {expected} (positive integers)")
    return cfg


def convert_hf_xlmr(hf_dir: str, out_dir: str, force: bool = False) -> str:
    check_model_out(out_dir, [hf_dir], force)
    cfg_path = os.path.join(hf_dir, "config.json")
    sp_path = os.path.join(hf_dir, "sentencepiece.bpe.model")
    for path in (cfg_path, sp_path):
        if not os.path.isfile(path):
            raise InputError(f"{hf_dir}: missing {os.path.basename(path)}")
    cfg = _read_config(cfg_path)
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise InputError(f"{cfg_path}: hidden_act {cfg['hidden_act']!r} is not supported (gelu only)")
    sp = load_sentencepiece(sp_path)
    pieces = [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
    rows = 4 + len(pieces) + 1
    layers = cfg["num_hidden_layers"]
    tensors = hf_to_canonical(load_hf_tensors(hf_dir), layers)
    if tensors["emb.word"].shape[0] < rows:
        raise InputError(f"{hf_dir}: {tensors['emb.word'].shape[0]} embedding rows, the tokenizer needs {rows}")
    max_positions = cfg["max_position_embeddings"] - 2
    args = roberta_args(layers, cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], max_positions)
    encoder = bert_to_fairseq(tensors, layers, cfg["hidden_size"], vocab_rows=rows)
    return write_converted(out_dir, args, pieces, encoder, sp_path, [hf_dir], force)
