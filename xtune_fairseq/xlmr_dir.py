"""The XLM-R model directory layout (fairseq's published xlmr.base / xlmr.large):
`model.pt` (fairseq checkpoint), `dict.txt`, `sentencepiece.bpe.model`."""

import argparse
import os
import shutil
import tempfile
from typing import Dict, List, Sequence

from xtune_fairseq.errors import InputError

REQUIRED_FILES = ("model.pt", "dict.txt", "sentencepiece.bpe.model")
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


def checkpoint_state(model_args: argparse.Namespace, model_state: dict) -> dict:
    """A fairseq checkpoint dict as published XLM-R model.pt files hold it."""
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    cfg = convert_namespace_to_omegaconf(model_args)
    return {
        "args": None,
        "cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "model": model_state,
        "optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "extra_state": {},
    }


def read_dict_pieces(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rsplit(" ", 1)[0] for line in f if line.strip()]


def write_model_dir(out_dir: str, state: dict, sp_model: str, pieces: Sequence[str]) -> None:
    """Writes the three files into a temporary sibling folder, then renames it into place."""
    import torch

    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-model-", dir=parent)
    try:
        torch.save(state, os.path.join(tmp, "model.pt"))
        write_dict_txt(pieces, os.path.join(tmp, "dict.txt"))
        shutil.copyfile(sp_model, os.path.join(tmp, "sentencepiece.bpe.model"))
        os.chmod(tmp, 0o755)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
