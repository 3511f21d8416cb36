"""Cross-lingual augmentations as plain functions and small classes (no fairseq import).

The registry is imported first, whichever module of the package is asked for: it imports every
kind's module in its order, so the kinds register in the same order every time."""

from xtune_fairseq.core.augment import registry  # noqa: F401
