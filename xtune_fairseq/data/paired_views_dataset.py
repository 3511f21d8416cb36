"""A fairseq dataset whose rows carry an input view and its R1 partner view.

Rows 0..N-1 are the examples of D (input = the original tokens); rows N.. are the
augmented copies A(x) of stage 2. Each row's partner is A*(x) / A'(x), drawn afresh every
epoch from (seed, epoch, index), so views differ across epochs and repeat across reruns.
"""

from typing import List, Optional, Sequence

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from xtune_fairseq.augment.views import ViewMaker

_INPUT_STREAM, _PARTNER_STREAM = 0, 1


class PairedViewsDataset(FairseqDataset):
    def __init__(
        self,
        src_tokens: FairseqDataset,  # original view, `<s> a </s> [</s> b </s>]`
        examples: Sequence,  # readers.Example, same order as src_tokens
        targets: Optional[torch.Tensor],
        langs: torch.Tensor,
        pad_idx: int,
        seed: int,
        augment: Optional[ViewMaker] = None,  # A: makes the augmented copies
        augmented_ratio: float = 1.0,
        partner: Optional[ViewMaker] = None,  # A* or A': the R1 view
        teacher_cache: Optional[dict] = None,  # xtune-teacher-cache output: R2 targets of fixed inputs
    ):
        self.teacher_cache = teacher_cache
        self.src_tokens, self.examples = src_tokens, examples
        self.targets, self.langs, self.pad_idx, self.seed = targets, langs, pad_idx, seed
        self.augment, self.partner = augment, partner
        n = len(src_tokens)
        n_aug = int(round(augmented_ratio * n)) if augment is not None else 0
        with data_utils.numpy_seed(seed, 17):
            order = np.random.permutation(n)
        # which example each augmented copy comes from: all of them first, then a fixed sample
        self.aug_source = np.concatenate([np.arange(n)] * (n_aug // n) + [order[: n_aug % n]]).astype(np.int64) \
            if n_aug else np.zeros(0, dtype=np.int64)
        base_sizes = np.asarray(src_tokens.sizes)
        # augmented views are re-drawn per epoch; the original length is the batching estimate
        self._sizes = np.concatenate([base_sizes, base_sizes[self.aug_source]])
        self.epoch = 1

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False

    def source_index(self, index: int) -> int:
        n = len(self.src_tokens)
        return index if index < n else int(self.aug_source[index - n])

    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def __getitem__(self, index):
        src = self.source_index(index)
        orig = self.src_tokens[src].tolist()
        example = self.examples[src]
        is_aug = index >= len(self.src_tokens)
        view_ids, view_noise, translation = orig, False, None
        if is_aug:
            view = self.augment(example, orig, self._rng(index, _INPUT_STREAM))
            view_ids, view_noise, translation = view.ids, view.noise, view.translation
        item = {
            "id": index,
            "source": torch.tensor(view_ids, dtype=torch.long),
            "noise": view_noise,
            "is_aug": is_aug,
            "lang": self.langs[src],
            "target": None if self.targets is None else self.targets[src],
            "teacher_logits": self._cached_teacher(src, example.id, is_aug, view_noise, translation),
        }
        if self.partner is not None:
            if is_aug and self.partner.kind == "mt" and self.augment.kind == "mt":
                p = orig, False  # a translation's own fresh translation would be itself
            else:
                pv = self.partner(example, orig, self._rng(index, _PARTNER_STREAM))
                p = pv.ids, pv.noise
            item["partner"] = torch.tensor(p[0], dtype=torch.long)
            item["partner_noise"] = p[1]
        return item

    def _cached_teacher(self, src, example_id, is_aug, noise, translation):
        """The teacher's logits for this row's input when that input is fixed (the original, or a
        given translation) and cached; None when the teacher has to see it online."""
        cache = self.teacher_cache
        if cache is None or noise:
            return None
        if not is_aug:
            return cache["original"][src]
        if translation is not None:
            return cache["translations"][cache["translation_rows"][example_id][translation]]
        return None

    def __len__(self):
        return len(self._sizes)

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    def ordered_indices(self):
        return np.arange(len(self))

    def collater(self, samples: List[dict]):
        if not samples:
            return {}
        src = [s["source"] for s in samples]
        batch = {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": sum(int(t.numel()) for t in src),
            "net_input": {
                "src_tokens": data_utils.collate_tokens(src, self.pad_idx),
                "src_lengths": torch.tensor([t.numel() for t in src]),
            },
            "noise": torch.tensor([s["noise"] for s in samples]),
            "is_aug": torch.tensor([s["is_aug"] for s in samples]),
            "lang": torch.stack([s["lang"] for s in samples]),
        }
        if all(s["teacher_logits"] is not None for s in samples):
            batch["teacher_logits"] = torch.stack([s["teacher_logits"] for s in samples])
        if samples[0]["target"] is not None:
            batch["target"] = torch.stack([s["target"] for s in samples])
        if "partner" in samples[0]:
            batch["partner"] = {
                "src_tokens": data_utils.collate_tokens([s["partner"] for s in samples], self.pad_idx),
                "noise": torch.tensor([s["partner_noise"] for s in samples]),
            }
        return batch
