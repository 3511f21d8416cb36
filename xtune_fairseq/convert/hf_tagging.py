"""Word tags from an exported tagging model (`xtune-convert to-hf`) exactly as it was trained.

transformers' token-classification decoding takes the label at each word's first subword. That is
what a model trained with `--word-pooling first` (NER) predicts; one trained with `sum` (the POS
recipe) or `average` classified pooled word vectors, and its first-subword labels differ. The head is
linear, so the pooled word logits follow from HF's per-token logits: `word_logits` pools them as
training pooled the states, and `tag_words` (model, tokenizer, lists of words) returns the labels.
The pooling is recorded in config.json as `xtune.word_pooling`. Needs torch only: no fairseq, no
transformers import (the model and tokenizer are the user's transformers objects); no remote code.
"""

from typing import List, Optional, Sequence, Tuple

import torch

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.word_alignment import NO_WORD, POOLING, pool_words, word_assignment

POOLING_KEY = "word_pooling"  # config.json: {"xtune": {"word_pooling": "first" | "average" | "sum"}}
DECODER = "xtune_fairseq.convert.hf_tagging.tag_words"


def word_logits(token_logits: torch.Tensor, word_of_token: torch.Tensor, n_words: int, pooling: str,
                bias: torch.Tensor) -> torch.Tensor:
    """Our tagging logits (rows, n_words, tags) from the HF model's per-token logits (rows, time, tags).
    Training applies the head once to the pooled word vector: (pooled h) W + b. `first` and
    `average` pool the token logits h_i W + b the same way (the mean of k biases is one bias); `sum`
    adds k biases where training added one, so k - 1 are taken off again. Words without tokens: 0."""
    pooled, _ = pool_words(token_logits, word_of_token, n_words, pooling)
    if pooling == "sum":
        extra = (word_assignment(word_of_token, n_words).sum(-1) - 1).clamp(min=0)
        pooled = pooled - extra.unsqueeze(-1).to(pooled.dtype) * bias
    return pooled


def pooling_of(config) -> str:
    """The word pooling an exported model was trained with (config.json's xtune.word_pooling)."""
    xtune = getattr(config, "xtune", None)
    pooling = xtune.get(POOLING_KEY) if isinstance(xtune, dict) else None
    if pooling not in POOLING:
        raise InputError(f"the model's config has xtune.{POOLING_KEY} {pooling!r}; expected one of "
                         f"{', '.join(POOLING)}: a tagging model written by xtune-convert to-hf")
    return pooling


def first_subword_decoding_differs(pooling: str) -> bool:
    """Whether transformers' standard decoding (the label at each word's first subword) is not the
    model's trained prediction: a one-piece word pools to its piece, a longer one does not."""
    return pooling != "first"


def word_index_of(encoding) -> torch.Tensor:
    """(rows, time) word ids of a fast tokenizer's batch (`is_split_into_words=True`), -1 for none."""
    if not callable(getattr(encoding, "word_ids", None)) or not getattr(encoding, "is_fast", True):
        raise InputError("the tokenizer gives no word_ids(): load the export's tokenizer.json "
                         "(AutoTokenizer.from_pretrained(folder), a fast tokenizer)")
    rows = len(encoding["input_ids"])
    return torch.tensor([[NO_WORD if w is None else w for w in encoding.word_ids(i)] for i in range(rows)])


def hf_word_logits(model, encoding) -> Tuple[torch.Tensor, torch.Tensor]:
    """(rows, words, tags) word logits as in training and the (rows, words) mask of words that have
    tokens, for an XLMRobertaForTokenClassification export and a padded batch of word lists encoded
    with `is_split_into_words=True, return_tensors="pt"`."""
    pooling = pooling_of(model.config)
    word_index = word_index_of(encoding)
    n_words = max(int(word_index.max()) + 1, 1)
    bias = model.classifier.bias
    with torch.no_grad():
        tokens = model(input_ids=encoding["input_ids"].to(bias.device),
                       attention_mask=encoding["attention_mask"].to(bias.device)).logits
        logits = word_logits(tokens, word_index.to(bias.device), n_words, pooling, bias)
    return logits, word_assignment(word_index, n_words).any(-1).to(bias.device)


def tag_words(model, tokenizer, sentences: Sequence[Sequence[str]],
              max_length: Optional[int] = None) -> List[List[Optional[str]]]:
    """The label of every word of every sentence, as our task predicts it (any --word-pooling).
    Sentences longer than the model's max_positions (or `max_length` tokens) lose their last words,
    as in training; those words get None. One forward pass for all of them: pass a batch at a time.
    Put the model in eval mode (from_pretrained does)."""
    limit = max_length or (getattr(model.config, "xtune", None) or {}).get("max_positions") \
        or tokenizer.model_max_length
    encoding = tokenizer([list(s) for s in sentences], is_split_into_words=True, padding=True, truncation=True,
                         max_length=limit, return_tensors="pt")
    logits, valid = hf_word_logits(model, encoding)
    names = model.config.id2label
    out = []
    for row, words in enumerate(sentences):
        best = logits[row].argmax(-1).tolist()
        out.append([names[best[w]] if w < valid.size(1) and valid[row, w] else None for w in range(len(words))])
    return out
