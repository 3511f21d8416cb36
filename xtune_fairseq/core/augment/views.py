"""The view makers: a kind's views of an example (its `Augmentation` object, core/augment/registry.py,
makes them) from the token ids of the example's texts or words, which the makers encode.

Views are made from the example's raw text with a numpy Generator that the caller seeds
from (seed, epoch, index, stream), so every epoch draws new views and reruns repeat them.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.registry import View, get_augmentation
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.text import TextEncoder
from xtune_fairseq.core.word_alignment import word_of_token

__all__ = ["View", "ViewMaker", "TaggingViewMaker"]
WORD_CACHE_SIZE = 1 << 18  # words whose best-segmentation ids ViewMaker keeps (tens of MB at most)


class ViewMaker:
    """Views of a sentence (pair), `<s> a </s> [</s> b </s>]`, made from its texts (classification).

    kind: a registered augmentation's name; its object makes the views (sentence_view) with this
    maker's encoding, and a task whose examples have another shape asks it for another view
    (TaggingViewMaker: words_view).
    """

    # whether a translated view is an example of its own, so that its R1 partner is a view of the
    # translation (partner_source); classification compares a translation with A'(x) of its source
    translation_has_own_views = False
    translations_command = "xtune-preprocess --translations"  # what makes the translations (MT)

    def __init__(
        self,
        kind: str,
        encoder: TextEncoder,
        sampler,  # SubwordSampler: every word's best segmentation, and sampled ones
        switcher=None,  # CodeSwitcher (code-switch views)
        translations: Optional[Dict[str, list]] = None,  # {training id: its translations} (MT views)
        word_ids: Optional[Dict[str, Tuple[int, ...]]] = None,  # a memo shared with makers of the same encoder and sampler
    ):
        self.augmentation = get_augmentation(kind)
        self.kind, self.encoder, self.sampler = self.augmentation.name, encoder, sampler
        self.switcher, self.translations = switcher, None
        self.augmentation.equip(self, switcher, translations)
        self._word_ids: Dict[str, Tuple[int, ...]] = {} if word_ids is None else word_ids

    def check_covers(self, example_ids: Sequence[str], what: str = "training examples") -> None:
        self.augmentation.check_covers(self, example_ids, what)

    def __call__(self, example, orig: View, rng: np.random.Generator) -> View:
        return self.augmentation.sentence_view(self, example, orig, rng)

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

    def __call__(self, example, orig: View, rng: np.random.Generator) -> View:
        return self.augmentation.words_view(self, example, orig, rng)
