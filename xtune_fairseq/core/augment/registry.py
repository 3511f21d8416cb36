"""The augmentations xTune draws views from (paper section 3.2), named once for the tasks' flags,
the pipeline's --a-star/--a/--a-prime and the view makers."""

DESCRIPTIONS = {
    "none": "no view: the example as it is",
    "ss": "subword sampling: words re-segmented by sentencepiece sampling (SS)",
    "gn": "Gaussian noise on the word embeddings of the unchanged input (GN)",
    "cs": "code-switch: words replaced by a bilingual dictionary's translations (CS)",
    "mt": "machine translation: a translate-train sentence of the example (MT)",
}
AUGMENTATIONS = tuple(DESCRIPTIONS)
