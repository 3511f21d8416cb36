"""Span-extraction rows with xTune's views: one row per window of a question's context.

Rows 0..N-1 are the windows of the original examples (D); rows N.. are augmented copies
A(D), one per original window. Views are drawn from (seed, epoch, row, stream) like
PairedViewsDataset's. An augmented example is re-segmented and re-windowed, so its windows
do not line up with the original ones by index: the copy of window k is the new view's
window sharing the most unchanged tokens with it (for a translation, the window at the
same relative place). Each row's R1 partner is A'(x) of the row's own example (of the
translation, for a translated row), its window chosen the same way; the collater carries
the aligned positions of the two windows for span R1 (paper 3.3.2).
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from fairseq.data import data_utils

from xtune_fairseq.augment.machine_translation import (
    PARTNER_IS_ORIGINAL, PARTNER_OF_TRANSLATION, Translations, partner_source,
)
from xtune_fairseq.augment.registry import AUGMENTATIONS
from xtune_fairseq.data.targets import IGNORE
from xtune_fairseq.data.view_rows import INPUT_STREAM, PARTNER_STREAM, ViewRowsDataset
from xtune_fairseq.errors import InputError
from xtune_fairseq.qa.consistency_masks import aligned_positions, pair_windows
from xtune_fairseq.qa.nbest import best_answer
from xtune_fairseq.qa.squad import QAExample
from xtune_fairseq.qa.windows import Window, make_windows, split_words



@dataclasses.dataclass
class QAView:
    example: QAExample  # whose context the windows index: the original or a translation
    windows: List[Window]  # tokens are pieces, "<s>" and "</s>"
    changed: List[bool]  # per context word: switched or resampled in this view
    noise: bool = False
    translation: Optional[int] = None  # which translation of the example


def answer_span(example: QAExample) -> Optional[Tuple[int, int]]:
    """Characters of the first answer (the training answer), None without one."""
    if not example.answers:
        return None
    text, start = example.answers[0]
    return start, start + len(text)


class QAViewMaker:
    """Makes views of an example: words, pieces (best or sampled), code-switch, windows.

    kind: one of AUGMENTATIONS. Code-switch never touches a word that overlaps the answer,
    so the gold span still covers the same characters; the question may be switched.
    """

    def __init__(self, kind, sampler, max_length, doc_stride, max_query_length, switcher=None,
                 translations: Optional[Dict[str, List[QAExample]]] = None):
        if kind not in AUGMENTATIONS:
            raise InputError(f"unknown augmentation {kind!r}; expected one of {AUGMENTATIONS}")
        if kind == "cs" and switcher is None:
            raise InputError("code-switch augmentation (cs) needs --code-switch-dicts")
        self.kind, self.sampler, self.switcher = kind, sampler, switcher
        self.translations = (Translations(translations, "xtune-preprocess --kind qa --translations")
                             if kind == "mt" else None)
        self.max_length, self.doc_stride, self.max_query_length = max_length, doc_stride, max_query_length
        self._translated: Dict[Tuple[str, int], QAView] = {}

    def check_covers(self, examples: Sequence[QAExample]) -> None:
        if self.kind == "mt":
            self.translations.check_covers([ex.id for ex in examples], "training questions")

    def encode(self, example: QAExample, sample_rng=None, switch_rng=None) -> QAView:
        """The example's view: subword sampling with sample_rng, code-switch with switch_rng."""
        words = split_words(example.context)
        texts = [w.text for w in words]
        question = [w.text for w in split_words(example.question)]
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
        if self.kind == "none":
            return orig
        if self.kind == "gn":
            return dataclasses.replace(orig, noise=True)
        if self.kind == "ss":
            return self.encode(example, sample_rng=rng)
        if self.kind == "cs":
            return self.encode(example, switch_rng=rng)
        k, translation = self.translations.draw(example.id, rng)
        if (example.id, k) not in self._translated:  # a translation is fixed text: encode it once
            self._translated[example.id, k] = dataclasses.replace(self.encode(translation), translation=k)
        return self._translated[example.id, k]


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


def window_target(window: Window) -> List[int]:
    if window.start_position is None:
        return [IGNORE, IGNORE]
    return [window.start_position, window.end_position]


class QAViewsDataset(ViewRowsDataset):
    def __init__(
        self,
        examples: Sequence[QAExample],
        langs: torch.Tensor,  # language index per example
        encode,  # QAExample -> QAView (best segmentation), e.g. QAViewMaker.encode
        index,  # piece -> fairseq id, e.g. Dictionary.index
        pad_idx: int,
        seed: int,
        augment: Optional[QAViewMaker] = None,  # A: makes the augmented copies
        augmented_ratio: float = 1.0,
        partner: Optional[QAViewMaker] = None,  # A* or A': the R1 view
    ):
        self.examples, self.langs, self.index, self.pad_idx = examples, langs, index, pad_idx
        self.augment, self.partner = augment, partner
        self.originals = [encode(ex) for ex in examples]
        self.rows = [(i, k) for i, view in enumerate(self.originals) for k in range(len(view.windows))]
        self.init_rows([len(self.window(r).tokens) for r in range(len(self.rows))], seed, augmented_ratio,
                       augment is not None)

    def window(self, row: int) -> Window:
        """The original window of row `row` < number of original rows."""
        i, k = self.rows[row]
        return self.originals[i].windows[k]

    def _ids(self, window: Window) -> torch.Tensor:
        return torch.tensor([self.index(t) for t in window.tokens], dtype=torch.long)

    def __getitem__(self, index):
        src = self.source_index(index)
        i, k = self.rows[src]
        example, orig = self.examples[i], self.originals[i]
        is_aug = index >= len(self.rows)
        view, w = orig, k
        if is_aug:
            view = self.augment(example, orig, self.rng(index, INPUT_STREAM))
            w = matching_window(orig.windows[k], orig.changed, k, len(orig.windows), view, view.translation is None)
        window = view.windows[w]
        item = {
            "id": index,
            "source": self._ids(window),
            "noise": view.noise,
            "is_aug": is_aug,
            "lang": self.langs[i],
            "target": torch.tensor(window_target(window), dtype=torch.long),
        }
        if self.partner is not None:
            # a translated row is compared with a view of the translation (its words, its windows)
            source = partner_source(self.augment.kind if is_aug else "none", self.partner.kind, is_aug,
                                    view.translation is not None, translation_has_own_views=True)
            if source == PARTNER_IS_ORIGINAL:  # not reached: the QA task refuses --r1-augmentation mt
                pv = orig
            else:
                base = dataclasses.replace(view, noise=False) if source == PARTNER_OF_TRANSLATION else orig
                pv = self.partner(view.example, base, self.rng(index, PARTNER_STREAM))
            pw = pv.windows[matching_window(window, view.changed, w, len(view.windows), pv, True)]
            item["partner"] = self._ids(pw)
            item["partner_noise"] = pv.noise
            item["aligned"] = alignment(window, view.changed, pw, pv.changed)
        return item

    def collater(self, samples: List[dict]):
        if not samples:
            return {}
        src = [s["source"] for s in samples]
        # both views padded to one width: R2's teacher sees the input view alone, and its position
        # axis must match that of the student's input rows, which run in one batch with the partners
        width = max(int(t.numel()) for s in samples for t in (s["source"], s.get("partner", s["source"])))
        batch = {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": sum(int(t.numel()) for t in src),
            "net_input": {
                "src_tokens": data_utils.collate_tokens(src, self.pad_idx, pad_to_length=width),
                "src_lengths": torch.tensor([t.numel() for t in src]),
            },
            "noise": torch.tensor([s["noise"] for s in samples]),
            "is_aug": torch.tensor([s["is_aug"] for s in samples]),
            "lang": torch.stack([s["lang"] for s in samples]),
            "target": torch.stack([s["target"] for s in samples]),
        }
        if "partner" in samples[0]:
            a = data_utils.collate_tokens([torch.tensor(s["aligned"][0]) for s in samples], -1)
            b = data_utils.collate_tokens([torch.tensor(s["aligned"][1]) for s in samples], -1)
            batch["partner"] = {
                "src_tokens": data_utils.collate_tokens([s["partner"] for s in samples], self.pad_idx,
                                                        pad_to_length=width),
                "noise": torch.tensor([s["partner_noise"] for s in samples]),
                # positions of the input and the partner window holding the same token; mask False = padding
                "aligned_input": a.clamp(min=0),
                "aligned_partner": b.clamp(min=0),
                "aligned_mask": a >= 0,
            }
        return batch

    def answers(self, logits_of_row: Dict[int, np.ndarray], n_best_size: int, max_answer_length: int) -> List[str]:
        """Answer text per example from (2, length) start/end logits of each original row,
        merged over the example's windows (nbest_spans)."""
        by_example: Dict[int, List[int]] = {}
        for row, (i, _) in enumerate(self.rows):
            by_example.setdefault(i, []).append(row)
        out = []
        for i, example in enumerate(self.examples):
            rows = by_example[i]
            missing = [r for r in rows if r not in logits_of_row]
            if missing:
                raise ValueError(f"no logits for rows {missing[:5]} of question {example.id!r}")
            logits = [logits_of_row[r] for r in rows]
            out.append(best_answer(example.context, [self.window(r) for r in rows], [x[0] for x in logits],
                                   [x[1] for x in logits], n_best_size, max_answer_length))
        return out


def count_windows(examples: Sequence[QAExample], maker: QAViewMaker) -> int:
    """Rows of the original examples (what an epoch of stage 1 trains on)."""
    return sum(len(maker.encode(ex).windows) for ex in examples)
