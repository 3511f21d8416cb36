"""Encoders for the analyses: a pretrained XLM-R-format directory or any fine-tuned
checkpoint, and per-layer sentence vectors from them."""

import os
from typing import List, Sequence

import numpy as np

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import TextEncoder
from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data
from xtune_fairseq.core.xlmr_dir import check_model_dir
from xtune_fairseq.core.xlmr_dir import load_sentencepiece
from xtune_fairseq.core.metrics.retrieval import masked_mean


class Encoder:
    def __init__(self, model, dictionary, sp_model: str, max_positions: int = 256):
        self.model = model.eval()
        self.dictionary = dictionary
        self.sp = load_sentencepiece(sp_model)
        self.text = TextEncoder(dictionary.index, dictionary.bos(), dictionary.eos(), max_positions)

    def ids(self, text: str) -> List[int]:
        return self.text.build([self.text.ids(self.sp.encode(text, out_type=str))])

    def layer_states(self, texts: Sequence[str], layer: int):
        """(hidden (batch, time, dim) of `layer` (0 = embeddings), mask of real tokens)."""
        import torch  # late: torch: start-up time
        from fairseq.data import data_utils  # late: fairseq: start-up time (about 3 s)

        tokens = data_utils.collate_tokens([torch.tensor(self.ids(t)) for t in texts], self.dictionary.pad())
        with torch.inference_mode():
            _, extra = self.model.encoder.extract_features(tokens, return_all_hiddens=True)
        states = extra["inner_states"]
        if not 0 <= layer < len(states):
            raise InputError(f"--layer {layer}: the model has layers 0..{len(states) - 1}")
        return states[layer].transpose(0, 1).float().numpy(), (tokens != self.dictionary.pad()).numpy()

    def sentence_vectors(self, texts: Sequence[str], layer: int, batch_size: int = 32) -> np.ndarray:
        out = [masked_mean(*self.layer_states(texts[i:i + batch_size], layer))
               for i in range(0, len(texts), batch_size)]
        return np.concatenate(out)


def load_encoder(path: str, data: str = None) -> Encoder:
    """A directory with model.pt (pretrained) or a checkpoint file (fine-tuned; `data` overrides
    the data directory it was trained on, whose sentencepiece model it uses)."""
    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    if os.path.isdir(path):
        from fairseq.models.roberta import XLMRModel  # late: fairseq: start-up time (about 3 s)


        check_model_dir(path)
        hub = XLMRModel.from_pretrained(path, checkpoint_file="model.pt", bpe="sentencepiece")
        return Encoder(hub.model, hub.task.source_dictionary, os.path.join(path, "sentencepiece.bpe.model"))

    model, task = load_with_data(path, data)
    return Encoder(model, task.source_dictionary, os.path.join(task.cfg.data, "sentencepiece.bpe.model"),
                   task.cfg.max_positions)
