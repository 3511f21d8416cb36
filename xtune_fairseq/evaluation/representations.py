"""First-token (<s>) representations of labelled examples in several languages, projected to 2-D
(t-SNE or PCA) and drawn coloured by label, marked by language, with lines joining translations
(the paper's Figure 3)."""

import os
from typing import Optional, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.data.prepared import meta_path, read_examples
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.metrics.plots import representation_plot
from xtune_fairseq.core.metrics.projection import project_2d, translation_links
from xtune_fairseq.evaluation.encoders import Encoder, load_encoder


def first_token_vectors(encoder: Encoder, texts: Sequence[str], layer: int = -1, batch_size: int = 32) -> np.ndarray:
    """The hidden state of the first token (<s>) of each text at `layer` (-1: the last), (texts, dim)."""
    out = []
    for i in range(0, len(texts), batch_size):
        hidden, _ = encoder.layer_states(texts[i:i + batch_size], layer if layer >= 0 else
                                         len(encoder.model.encoder.sentence_encoder.layers))
        out.append(hidden[:, 0])
    return np.concatenate(out)


def plot_representations(model: str, data: str, out: str, *, split: str = "valid",
                         langs: Optional[Sequence[str]] = None, per_lang: int = 100, layer: int = -1,
                         method: str = "tsne", seed: int = 1) -> Tuple[int, int]:
    """The first per_lang examples of each language of `split` (langs: default all in the split) through
    `model` (a model directory or a checkpoint, read with `data`), projected by `method` ("tsne" or "pca"),
    drawn into the PNG `out`; returns (points, translation links)."""
    examples = read_examples(meta_path(data, split))
    langs = langs or sorted({ex.lang for ex in examples})
    chosen = []
    for lang in langs:
        rows = [ex for ex in examples if ex.lang == lang][:per_lang]
        if not rows:
            raise InputError(f"{data}: no {split} examples in language {lang!r}")
        chosen += rows
    enc = load_encoder(model, data if not os.path.isdir(model) else None)
    texts = [" ".join(ex.texts) for ex in chosen]
    points = project_2d(first_token_vectors(enc, texts, layer), method, seed)
    links = translation_links([ex.id for ex in chosen], [ex.lang for ex in chosen])
    title = f"{os.path.basename(os.path.dirname(model)) or model}: {method}, {len(chosen)} examples"
    representation_plot(points, [ex.label for ex in chosen], [ex.lang for ex in chosen], links, out, title)
    return len(chosen), len(links)
