"""Span-extraction rows with xTune's views: one row per window of a question's context.

Rows 0..N-1 are the windows of the original examples (D); rows N.. are augmented copies
A(D), one per original window. Views are drawn from (seed, epoch, row, stream) like
PairedViewsDataset's and made by qa.views.QAViewMaker; the copy of window k is the new view's
matching window (qa.views.matching_window). Each row's R1 partner is A'(x) of the row's own
example (of the translation, for a translated row), its window chosen the same way; the
collater carries the aligned positions of the two windows for span R1 (paper 3.3.2).
"""

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from fairseq.data import data_utils

from xtune_fairseq.core.augment.machine_translation import PARTNER_IS_ORIGINAL, PARTNER_OF_TRANSLATION, partner_source
from xtune_fairseq.core.batch import Batch, NetInput, Partner
from xtune_fairseq.core.data.targets import IGNORE
from xtune_fairseq.fairseq_wiring.datasets.view_rows import INPUT_STREAM, PARTNER_STREAM, ViewRowsDataset
from xtune_fairseq.core.qa.nbest import best_answer
from xtune_fairseq.core.qa.squad import QAExample
from xtune_fairseq.core.qa.views import QAViewMaker, alignment, matching_window
from xtune_fairseq.core.qa.windows import Window


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
                base = view if source == PARTNER_OF_TRANSLATION else orig
                pv = self.partner(view.example, base, self.rng(index, PARTNER_STREAM))
            pw = pv.windows[matching_window(window, view.changed, w, len(view.windows), pv, True)]
            item["partner"] = self._ids(pw)
            item["aligned"] = alignment(window, view.changed, pw, pv.changed)
        return item

    def collater(self, samples: List[dict]) -> Batch:
        """The rows' Batch (core/batch.py); {} for no rows, as fairseq's empty batch."""
        if not samples:
            return {}
        src = [s["source"] for s in samples]
        # both views padded to one width: R2's teacher sees the input view alone, and its position
        # axis must match that of the student's input rows, which run in one batch with the partners
        width = max(int(t.numel()) for s in samples for t in (s["source"], s.get("partner", s["source"])))
        batch = Batch(
            id=torch.tensor([s["id"] for s in samples]),
            nsentences=len(samples),
            ntokens=sum(int(t.numel()) for t in src),
            net_input=NetInput(
                src_tokens=data_utils.collate_tokens(src, self.pad_idx, pad_to_length=width),
                src_lengths=torch.tensor([t.numel() for t in src]),
            ),
            is_aug=torch.tensor([s["is_aug"] for s in samples]),
            lang=torch.stack([s["lang"] for s in samples]),
            target=torch.stack([s["target"] for s in samples]),
        )
        if "partner" in samples[0]:
            a = data_utils.collate_tokens([torch.tensor(s["aligned"][0]) for s in samples], -1)
            b = data_utils.collate_tokens([torch.tensor(s["aligned"][1]) for s in samples], -1)
            batch["partner"] = Partner(
                src_tokens=data_utils.collate_tokens([s["partner"] for s in samples], self.pad_idx,
                                                     pad_to_length=width),
                # positions of the input and the partner window holding the same token; mask False = padding
                aligned_input=a.clamp(min=0),
                aligned_partner=b.clamp(min=0),
                aligned_mask=a >= 0,
            )
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

