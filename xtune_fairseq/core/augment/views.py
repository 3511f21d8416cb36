"""A view of an example: the token ids a model sees, and whether its embeddings get noise.

Views are made from the example's raw text with a numpy Generator that the caller seeds
from (seed, epoch, index, stream), so every epoch draws new views and reruns repeat them.
"""

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.code_switch import CodeSwitcher
from xtune_fairseq.core.augment.machine_translation import Translations
from xtune_fairseq.core.augment.registry import AUGMENTATIONS
from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import TextEncoder
from xtune_fairseq.core.word_alignment import word_of_token

WORD_CACHE_SIZE = 1 << 18  # words whose best-segmentation ids ViewMaker keeps (tens of MB at most)


@dataclass
class View:
    ids: List[int]
    noise: bool = False
    translation: Optional[int] = None  # which translation of the example (MT views): a fixed input
    word_of_token: Optional[List[int]] = None  # tagging: word index per token (-1: none)
    translation_words: Optional[Tuple[str, ...]] = None  # tagging MT views: the translated words (no tags)


class ViewMaker:
    """Views of a sentence (pair), `<s> a </s> [</s> b </s>]`, made from its texts (classification).

    __call__ picks the augmentation by kind; sampled, switched and translated make the view, and a
    task whose examples have another shape overrides them (TaggingViewMaker).
    """

    # whether a translated view is an example of its own, so that its R1 partner is a view of the
    # translation (partner_source); classification compares a translation with A'(x) of its source
    translation_has_own_views = False

    def __init__(
        self,
        kind: str,
        encoder: TextEncoder,
        sampler: SubwordSampler,
        switcher: Optional[CodeSwitcher] = None,
        translations: Optional[Dict[str, list]] = None,
        word_ids: Optional[Dict[str, Tuple[int, ...]]] = None,  # a memo shared with makers of the same encoder and sampler
    ):
        if kind not in AUGMENTATIONS:
            raise InputError(f"unknown augmentation {kind!r}; expected one of {AUGMENTATIONS}")
        if kind == "cs" and switcher is None:
            raise InputError("code-switch augmentation (cs) needs --code-switch-dicts")
        self.kind, self.encoder, self.sampler = kind, encoder, sampler
        self.switcher = switcher
        self.translations = Translations(translations) if kind == "mt" else None
        self._word_ids: Dict[str, Tuple[int, ...]] = {} if word_ids is None else word_ids

    def check_covers(self, example_ids: Sequence[str]) -> None:
        if self.kind == "mt":
            self.translations.check_covers(example_ids)

    def __call__(self, example, orig: View, rng: np.random.Generator) -> View:
        if self.kind == "none":
            return orig
        if self.kind == "gn":
            return View(orig.ids, noise=True, word_of_token=orig.word_of_token)
        if self.kind == "ss":
            return self.sampled(example, rng)
        if self.kind == "cs":
            return self.switched(example, rng)
        return self.translated(example, rng)

    def encode_texts(self, texts: Sequence[str], rng: Optional[np.random.Generator]) -> List[int]:
        per_text = []
        for text in texts:
            words = text.split()
            if rng is None:  # every word in its best segmentation
                per_text.append([i for word in words for i in self.word_ids(word)])
                continue
            drawn = self.sampler.resample(words, rng)
            per_text.append([i for word, pieces in zip(words, drawn)
                             for i in (self.word_ids(word) if pieces is None else self.encoder.ids(pieces))])
        return self.encoder.build(per_text)

    def word_ids(self, word: str) -> Tuple[int, ...]:
        """The ids of a word's best segmentation, memoised: most words of most views keep it, and
        segmenting and looking up their pieces anew every epoch dominated the cost of a view."""
        cache = self._word_ids
        ids = cache.get(word)
        if ids is None:
            if len(cache) >= WORD_CACHE_SIZE:  # bounded: a corpus's long tail of words would grow it
                cache.clear()
            ids = cache[word] = tuple(self.encoder.ids(self.sampler.best(word)))
        return ids

    def sampled(self, example, rng: np.random.Generator) -> View:
        return View(self.encode_texts(example.texts, rng))

    def switched(self, example, rng: np.random.Generator) -> View:
        texts = [" ".join(self.switcher(t.split(), rng)[0]) for t in example.texts]
        return View(self.encode_texts(texts, None))

    def translated(self, example, rng: np.random.Generator) -> View:
        k, translation = self.translations.draw(example.id, rng)
        return View(self.encode_texts(translation.texts, None), translation=k)


class TaggingViewMaker(ViewMaker):
    """Views of a tagged sentence (its words): every view keeps the word count and carries the word
    of every token, so per-word tags and R1 stay aligned word by word."""

    translation_has_own_views = True  # R1 compares a translated sentence with a view of its own words

    def encode_words(self, words: Sequence[str], rng: Optional[np.random.Generator], example_id: str = "") -> View:
        """Tagging input `<s> pieces </s>` with the word of every token; every word keeps its place."""
        pieces, _ = self.sampler.segment(list(words), rng)
        if len(pieces) != len(words):
            raise InputError(f"example {example_id}: a view has {len(pieces)} words where the original has "
                             f"{len(words)}; per-word tags would be misaligned")
        ids = self.encoder.build([self.encoder.ids([p for word in pieces for p in word])])
        return View(ids, word_of_token=word_of_token(pieces, len(ids)))

    def sampled(self, example, rng: np.random.Generator) -> View:
        return self.encode_words(example.words, rng, example.id)

    def switched(self, example, rng: np.random.Generator) -> View:
        # a switched word keeps its tag: the switcher never changes the word count
        switched, _ = self.switcher(example.words, rng)
        if any(len(w.split()) != 1 for w in switched):
            raise InputError(f"example {example.id}: code-switch produced a multi-word entry; tagging needs "
                             "a single-word switcher")
        return self.encode_words(switched, None, example.id)

    def translated(self, example, rng: np.random.Generator) -> View:
        k, translation = self.translations.draw(example.id, rng)
        view = self.encode_words(translation.words, None, translation.id)
        return replace(view, translation=k, translation_words=tuple(translation.words))
