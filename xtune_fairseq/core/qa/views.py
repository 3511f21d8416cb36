"""xTune's views of a span-extraction example: words, pieces (best or sampled), code-switch,
windows; and how the windows of two views of one example line up (paper 3.3.2). No fairseq import.

An augmented example is re-segmented and re-windowed, so its windows do not line up with the
original ones by index: the copy of window k is the new view's window sharing the most unchanged
tokens with it (for a translation, the window at the same relative place).
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.registry import get_augmentation
from xtune_fairseq.core.qa.consistency_masks import aligned_positions, pair_windows
from xtune_fairseq.core.qa.squad import QAExample
from xtune_fairseq.core.qa.windows import Window, make_windows, split_words


@dataclasses.dataclass
class QAView:
    example: QAExample  # whose context the windows index: the original or a translation
    windows: List[Window]  # tokens are pieces, "<s>" and "</s>"
    changed: List[bool]  # per context word: switched or resampled in this view
    translation: Optional[int] = None  # which translation of the example


def answer_span(example: QAExample) -> Optional[Tuple[int, int]]:
    """Characters of the first answer (the training answer), None without one."""
    if not example.answers:
        return None
    text, start = example.answers[0]
    return start, start + len(text)


class QAViewMaker:
    """Makes views of an example: words, pieces (best or sampled), code-switch, windows.

    kind: a registered augmentation's name; its object makes the views (qa_view) with `encode`.
    split_unspaced: how contexts and questions are cut into words (windows.split_words), which are
    the units of code-switch, subword sampling and R1's unchanged-word masks.
    Code-switch never touches a word that overlaps the answer, so the gold span still covers the
    same characters; the question may be switched.
    """

    translations_command = "xtune-preprocess --kind qa --translations"  # what makes the translations (MT)

    def __init__(self, kind, sampler, max_length, doc_stride, max_query_length, switcher=None,
                 translations: Optional[Dict[str, List[QAExample]]] = None, split_unspaced: bool = False):
        self.augmentation = get_augmentation(kind)
        self.split_unspaced = split_unspaced  # words: split_words's (the data directory's qa_word_split)
        self.kind, self.sampler, self.switcher, self.translations = self.augmentation.name, sampler, switcher, None
        self.augmentation.equip(self, switcher, translations)
        self.max_length, self.doc_stride, self.max_query_length = max_length, doc_stride, max_query_length
        self.fixed_views: Dict[Tuple[str, int], QAView] = {}  # views of fixed inputs (translations), encoded once

    def check_covers(self, examples: Sequence[QAExample]) -> None:
        self.augmentation.check_covers(self, [ex.id for ex in examples], "training questions")

    def encode(self, example: QAExample, sample_rng=None, switch_rng=None) -> QAView:
        """The example's view: subword sampling with sample_rng, code-switch with switch_rng."""
        words = split_words(example.context, self.split_unspaced)
        texts = [w.text for w in words]
        question = [w.text for w in split_words(example.question, self.split_unspaced)]
        switched = [False] * len(words)
        span = answer_span(example)
        if switch_rng is not None:
            free = [i for i, w in enumerate(words) if span is None or w.end <= span[0] or w.start >= span[1]]
            new, flags = self.switcher([texts[i] for i in free], switch_rng)
            for i, text, flag in zip(free, new, flags):
                texts[i], switched[i] = text, flag
            question = self.switcher(question, switch_rng)[0]
        q_pieces = [p for word in self.sampler.segment(question, sample_rng)[0] for p in word]
        pieces, resampled = self.sampler.segment(texts, sample_rng)
        # a switched word keeps its original characters' span: piece_spans falls back to the whole word
        windows = make_windows(0, q_pieces, words, pieces, span, self.max_length, self.doc_stride,
                               self.max_query_length, bos="<s>", eos="</s>")
        return QAView(example, windows, [s or r for s, r in zip(switched, resampled)])

    def __call__(self, example: QAExample, orig: QAView, rng: np.random.Generator) -> QAView:
        """A view of `example`, whose best-segmented view is `orig`."""
        return self.augmentation.qa_view(self, example, orig, rng)


def count_windows(examples: Sequence[QAExample], maker: QAViewMaker) -> int:
    """Rows of the original examples (what an epoch of stage 1 trains on)."""
    return sum(len(maker.encode(ex).windows) for ex in examples)


def matching_window(window: Window, changed: Sequence[bool], k: int, n: int, view: QAView, same_words: bool) -> int:
    """The window of `view` that stands for window k (of n) of another view of the same example
    (same_words) or of its translation."""
    if same_words:
        best = pair_windows([window], changed, view.windows, view.changed)[0]
        if best is not None:
            return best
    return int(round(k * (len(view.windows) - 1) / max(n - 1, 1)))


def alignment(a: Window, changed_a, b: Window, changed_b) -> Tuple[List[int], List[int]]:
    """Positions of a and b that hold the same token of the same text: every position when the
    token sequences are equal (Gaussian noise, untouched windows), else the first token and the
    context pieces of words that neither view changed."""
    if a.tokens == b.tokens:
        every = list(range(len(a.tokens)))
        return every, every
    ia, ib = aligned_positions(a.token_to_word, a.token_piece_in_word, changed_a,
                               b.token_to_word, b.token_piece_in_word, changed_b)
    return ia.tolist(), ib.tolist()
