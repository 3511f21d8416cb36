"""A view of an example: the token ids a model sees, and whether its embeddings get noise.

Views are made from the example's raw text with a numpy Generator that the caller seeds
from (seed, epoch, index, stream), so every epoch draws new views and reruns repeat them.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from xtune_fairseq.augment.code_switch import CodeSwitcher
from xtune_fairseq.augment.subword_sampling import SubwordSampler
from xtune_fairseq.errors import InputError
from xtune_fairseq.text import TextEncoder

# paper names: SS subword sampling, GN Gaussian noise, CS code-switch, MT machine translation
AUGMENTATIONS = ("none", "ss", "gn", "cs", "mt")


@dataclass
class View:
    ids: List[int]
    noise: bool = False
    translation: Optional[int] = None  # which translation of the example (MT views): a fixed input


class ViewMaker:
    def __init__(
        self,
        kind: str,
        encoder: TextEncoder,
        sampler: SubwordSampler,
        switcher: Optional[CodeSwitcher] = None,
        translations: Optional[Dict[str, list]] = None,
    ):
        if kind not in AUGMENTATIONS:
            raise InputError(f"unknown augmentation {kind!r}; expected one of {AUGMENTATIONS}")
        if kind == "cs" and switcher is None:
            raise InputError("code-switch augmentation (cs) needs --code-switch-dicts")
        if kind == "mt" and not translations:
            raise InputError("machine-translation augmentation (mt) needs translations (xtune-preprocess --translations)")
        self.kind, self.encoder, self.sampler = kind, encoder, sampler
        self.switcher, self.translations = switcher, translations

    def check_covers(self, example_ids: Sequence[str]) -> None:
        if self.kind == "mt":
            missing = [i for i in example_ids if i not in self.translations]
            if missing:
                raise InputError(f"no translation for {len(missing)} training examples, e.g. ids {missing[:5]}")

    def encode_texts(self, texts: Sequence[str], rng: Optional[np.random.Generator]) -> List[int]:
        per_text = []
        for text in texts:
            pieces, _ = self.sampler.segment(text.split(), rng)
            per_text.append(self.encoder.ids([p for word in pieces for p in word]))
        return self.encoder.build(per_text)

    def __call__(self, example, orig_ids: List[int], rng: np.random.Generator) -> View:
        if self.kind == "none":
            return View(orig_ids)
        if self.kind == "gn":
            return View(orig_ids, noise=True)
        if self.kind == "ss":
            return View(self.encode_texts(example.texts, rng))
        if self.kind == "cs":
            texts = [" ".join(self.switcher(t.split(), rng)[0]) for t in example.texts]
            return View(self.encode_texts(texts, None))
        choices = self.translations[example.id]
        k = int(rng.integers(len(choices)))
        return View(self.encode_texts(choices[k].texts, None), translation=k)
