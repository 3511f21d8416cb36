"""`xlmr_xtune`: fairseq's RoBERTa / XLM-R encoder restored from an XLM-R-format directory,
with sentence classification heads and token (word) classification heads."""

import contextlib
import logging
import os

from fairseq.models import register_model, register_model_architecture
from fairseq.utils import safe_getattr
from fairseq.models.roberta.model import RobertaModel, base_architecture
from torch import nn
from omegaconf import OmegaConf, open_dict

from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.xlmr_dir import ARCH_KEYS, check_model_dir, model_args_of

logger = logging.getLogger(__name__)


class TokenClassificationHead(nn.Module):
    """Dropout and a linear layer on each word vector (XTREME's tagging head)."""

    def __init__(self, dim: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(dim, num_labels)

    def forward(self, words):
        return self.out_proj(self.dropout(words))


@register_model("xlmr_xtune")
class XlmrXtuneModel(RobertaModel):
    def __init__(self, args, encoder):
        super().__init__(args, encoder)
        self.token_heads = nn.ModuleDict()

    def register_token_head(self, name: str, num_labels: int, dropout: float = None):
        """A head on every token; dropout defaults to the encoder's (HF's token classifier: 0.1)."""
        if name in self.token_heads:
            if self.token_heads[name].out_proj.out_features != num_labels:
                raise InputError(f"token head {name!r} predicts {self.token_heads[name].out_proj.out_features} "
                                 f"labels, the data has {num_labels}")
            return
        dropout = self.args.dropout if dropout is None else dropout
        self.token_heads[name] = TokenClassificationHead(self.args.encoder_embed_dim, num_labels, dropout)

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument(
            "--pretrained-dir", type=str, default=None,
            help="XLM-R-format directory (model.pt, dict.txt, sentencepiece.bpe.model) whose encoder "
            "initialises the model; its architecture overrides the --encoder-* flags",
        )

    @classmethod
    def build_model(cls, args, task):
        pretrained_dir = getattr(args, "pretrained_dir", None)
        state = None
        if pretrained_dir:
            check_model_dir(pretrained_dir)
            state = safe_load(os.path.join(pretrained_dir, "model.pt"))
            src = model_args_of(state, os.path.join(pretrained_dir, "model.pt"))
            with open_dict(args) if OmegaConf.is_config(args) else contextlib.nullcontext():
                for key in ARCH_KEYS:
                    if key in src:
                        setattr(args, key, src[key])
        model = super().build_model(args, task)
        if state is not None:
            model.load_pretrained_encoder(state["model"], pretrained_dir)
        return model

    def load_pretrained_encoder(self, model_state, where):
        encoder_state = {k[len("encoder."):]: v for k, v in model_state.items() if k.startswith("encoder.")}
        rows = encoder_state["sentence_encoder.embed_tokens.weight"].size(0)
        ours = self.encoder.sentence_encoder.embed_tokens.weight.size(0)
        if rows != ours:
            raise InputError(
                f"{where}/model.pt has {rows} embedding rows but the data's dictionary gives {ours}: "
                "binarize the data with this model's dict.txt (xtune-preprocess --model-dir)"
            )
        missing, unexpected = self.encoder.load_state_dict(encoder_state, strict=False)
        missing = [k for k in missing if "lm_head" not in k]
        if missing:
            raise InputError(f"{where}/model.pt lacks encoder weights {missing[:5]}")
        logger.info("restored encoder from %s (%d tensors)", where, len(encoder_state))

    def token_states(self, src_tokens, return_all_hiddens=False):
        """Last-layer states (batch, time, dim) of every token."""
        return self.encoder.extract_features(src_tokens, return_all_hiddens=return_all_hiddens)


@register_model_architecture("xlmr_xtune", "xlmr_xtune")
def xlmr_xtune_architecture(args):
    # HF's RobertaClassificationHead (the authors' sentence head) drops 10% before and after its dense layer
    args.pooler_dropout = safe_getattr(args, "pooler_dropout", 0.1)
    base_architecture(args)
