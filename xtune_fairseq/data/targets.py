"""Targets shared by the datasets and the criterion. No fairseq import."""

IGNORE = -100  # target of an item with no label (a word without a tag, padding, a window without the answer)
