"""What every xTune training set shares: rows 0..N-1 are the original rows of D, rows N.. the
augmented copies A(D) of stage 2, and every view is drawn from a generator seeded by
(seed, epoch, row, stream), so epochs draw new views and reruns repeat them."""

import numpy as np
from fairseq.data import FairseqDataset, data_utils

INPUT_STREAM, PARTNER_STREAM = 0, 1


class ViewRowsDataset(FairseqDataset):
    def init_rows(self, base_sizes, seed: int, augmented_ratio: float, augmenting: bool) -> None:
        """base_sizes: token count of each original row (the batching estimate of its copies too,
        whose views are re-drawn every epoch)."""
        n = len(base_sizes)
        n_aug = int(round(augmented_ratio * n)) if augmenting else 0
        with data_utils.numpy_seed(seed, 17):
            order = np.random.permutation(n)
        # which original row each copy comes from: all of them first, then a fixed sample
        self.aug_source = np.concatenate([np.arange(n)] * (n_aug // n) + [order[: n_aug % n]]).astype(np.int64) \
            if n_aug else np.zeros(0, dtype=np.int64)
        base_sizes = np.asarray(base_sizes, dtype=np.int64)
        self._sizes = np.concatenate([base_sizes, base_sizes[self.aug_source]])
        self.n_original, self.seed, self.epoch = n, seed, 1

    def source_index(self, index: int) -> int:
        """The original row behind row `index`."""
        return index if index < self.n_original else int(self.aug_source[index - self.n_original])

    def rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # views change every epoch

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
