"""A fine-tuned xlmr_xtune state dict -> HuggingFace XLM-R names and config.json (the inverse of
hf_xlmr.py plus the three heads). Pure functions on tensors and dicts: no fairseq, no transformers.

What makes the two forward passes equal:
- positions: fairseq's learned positions start at padding_idx + 1 = 2, as HF XLM-R's position ids
  do, so the position table is copied row for row;
- token types: fairseq has none; HF adds token_type_embeddings[0] to every token, so it is zeros;
- layer norms: fairseq uses torch's default eps 1e-5 (HF's XLMRobertaConfig default is 1e-12);
- heads: fairseq's RobertaClassificationHead (dense, tanh, out_proj on <s>) is HF's
  XLMRobertaClassificationHead; the tagging and QA heads are a linear layer on every token.
"""

from typing import Dict, Sequence

import torch

from xtune_fairseq.core.errors import InputError

ENC = "encoder.sentence_encoder."
KINDS = {  # our kind -> (HF class, {our head's module: HF's})
    "classification": ("XLMRobertaForSequenceClassification",
                       {"dense.": "classifier.dense.", "out_proj.": "classifier.out_proj."}),
    "tagging": ("XLMRobertaForTokenClassification", {"out_proj.": "classifier."}),
    "qa": ("XLMRobertaForQuestionAnswering", {"out_proj.": "qa_outputs."}),  # outputs: start, end
}
_LAYER = {
    "self_attn.q_proj": "attention.self.query", "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value", "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.output.LayerNorm", "fc1": "intermediate.dense",
    "fc2": "output.dense", "final_layer_norm": "output.LayerNorm",
}
_EMBED = {"embed_tokens.weight": "word_embeddings.weight", "embed_positions.weight": "position_embeddings.weight",
          "layernorm_embedding.weight": "LayerNorm.weight", "layernorm_embedding.bias": "LayerNorm.bias"}
# fairseq activation -> HF hidden_act (fairseq's gelu is the exact erf form, gelu_accurate the tanh one)
_ACT = {"gelu": "gelu", "gelu_accurate": "gelu_new", "relu": "relu"}
# (flag, the value HF's post-LayerNorm XLM-R computes with)
_ARCH = (("encoder_normalize_before", False), ("layernorm_embedding", True), ("no_scale_embedding", True),
         ("encoder_learned_pos", True))


def head_prefix(kind: str, head_name: str) -> str:
    """Where the head of a checkpoint of this kind sits in our state dict."""
    if kind not in KINDS:
        raise InputError(f"task kind {kind!r}: expected one of {', '.join(KINDS)}")
    return f"classification_heads.{head_name}." if kind == "classification" else f"token_heads.{head_name}."


def check_arch(arch: dict, kind: str, where: str) -> str:
    """The checkpoint's encoder is one HF XLM-R reproduces; returns HF's hidden_act."""
    for flag, value in _ARCH:
        if flag in arch and bool(arch[flag]) != value:
            raise InputError(f"{where}: {flag}={arch[flag]} has no HF XLM-R equivalent (expected {value})")
    act = arch.get("activation_fn", "gelu")
    if act not in _ACT:
        raise InputError(f"{where}: activation_fn {act!r}: expected one of {', '.join(_ACT)}")
    if kind == "classification" and arch.get("pooler_activation_fn", "tanh") != "tanh":
        raise InputError(f"{where}: pooler_activation_fn {arch['pooler_activation_fn']!r}: HF's classification "
                         "head applies tanh")
    return _ACT[act]


def fairseq_to_hf(state: Dict[str, torch.Tensor], kind: str, head_name: str, layers: int) -> Dict[str, torch.Tensor]:
    """HF tensors (float32, contiguous) of the encoder and the task's head. Every encoder tensor
    must be used: one we do not know (another architecture) is an error, not silently dropped."""
    taken = set()

    def get(name):
        if name not in state:
            raise InputError(f"checkpoint lacks {name}")
        taken.add(name)
        return state[name].detach().float().contiguous().clone()

    out = {f"roberta.embeddings.{dst}": get(ENC + src) for src, dst in _EMBED.items()}
    hidden = out["roberta.embeddings.word_embeddings.weight"].size(1)
    out["roberta.embeddings.token_type_embeddings.weight"] = torch.zeros(1, hidden)
    for i in range(layers):
        for src, dst in _LAYER.items():
            for p in ("weight", "bias"):
                out[f"roberta.encoder.layer.{i}.{dst}.{p}"] = get(f"{ENC}layers.{i}.{src}.{p}")
    head = head_prefix(kind, head_name)
    for src, dst in KINDS[kind][1].items():
        for p in ("weight", "bias"):
            out[dst + p] = get(head + src + p)
    unused = [k for k in state if k.startswith(ENC) and k not in taken and not k.endswith(".version")]
    if unused:
        raise InputError(f"checkpoint holds encoder tensors HF XLM-R has no place for: {unused[:3]}")
    return out


def n_labels(hf_state: Dict[str, torch.Tensor], kind: str) -> int:
    """Outputs of the head: rows of its last linear layer."""
    return hf_state[list(KINDS[kind][1].values())[-1] + "weight"].size(0)


def hf_config(arch: dict, kind: str, labels: Sequence[str], hf_state: Dict[str, torch.Tensor],
              hidden_act: str, extra: dict) -> dict:
    """config.json of the HF model; `extra` (our task settings) is kept under "xtune"."""
    words = hf_state["roberta.embeddings.word_embeddings.weight"]
    if kind == "qa" and len(labels) != 2:
        raise InputError(f"a span head has 2 outputs (start, end), this one {len(labels)}")
    head_dropout = {"classification": arch.get("pooler_dropout"), "tagging": arch.get("dropout"), "qa": None}[kind]
    return {
        "architectures": [KINDS[kind][0]],
        "model_type": "xlm-roberta",
        "vocab_size": words.size(0),
        "hidden_size": words.size(1),
        "num_hidden_layers": int(arch["encoder_layers"]),
        "num_attention_heads": int(arch["encoder_attention_heads"]),
        "intermediate_size": hf_state["roberta.encoder.layer.0.intermediate.dense.weight"].size(0),
        "hidden_act": hidden_act,
        "hidden_dropout_prob": float(arch.get("dropout", 0.1)),
        "attention_probs_dropout_prob": float(arch.get("attention_dropout", 0.1)),
        "classifier_dropout": None if head_dropout is None else float(head_dropout),
        "max_position_embeddings": hf_state["roberta.embeddings.position_embeddings.weight"].size(0),
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5,
        "position_embedding_type": "absolute",
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
        "torch_dtype": "float32",
        "xtune": dict(extra),
    }
