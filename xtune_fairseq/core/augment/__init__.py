"""Cross-lingual augmentations as plain functions and small classes (no fairseq import)."""
