"""Machine translation (MT, translate-train) as an xTune view, the rules of all three task kinds
in one place: which translation a view of an example uses (one of the example's rows in
meta/translations.jsonl, drawn uniformly from the view's generator), and what a row's R1
partner is made from when translations are involved.

Translated text is fixed: a view of a translation is never re-sampled by MT itself (no noise,
no sampled pieces), so a teacher cache can hold its predictions. No fairseq import.
"""

from dataclasses import replace
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.registry import Augmentation, View, get_augmentation, register_augmentation
from xtune_fairseq.core.errors import InputError

# what a row's R1 partner (A* / A') is made from
PARTNER_IS_ORIGINAL = "original"  # the original row itself, no new view
PARTNER_OF_TRANSLATION = "translation"  # a view of the row's translation, as an example of its own
PARTNER_OF_EXAMPLE = "example"  # a view of the original example (every other row)


class Translations:
    """{training id: its translations, in the row shape of the task's kind}: the MT view's source."""

    def __init__(self, table: Dict[str, List[Any]], how_to_make: str = "xtune-preprocess --translations"):
        if not table:
            raise InputError(f"machine-translation augmentation (mt) needs translations ({how_to_make})")
        self.table = table

    def check_covers(self, example_ids: Sequence[str], what: str = "training examples") -> None:
        missing = [i for i in example_ids if i not in self.table]
        if missing:
            raise InputError(f"no translation for {len(missing)} {what}, e.g. ids {missing[:5]}")

    def __getitem__(self, example_id: str) -> List[Any]:
        return self.table[example_id]

    def __contains__(self, example_id: str) -> bool:
        return example_id in self.table

    def draw(self, example_id: str, rng: np.random.Generator) -> Tuple[int, Any]:
        """(k, the k-th translation of the example), k drawn uniformly with one rng call."""
        choices = self.table[example_id]
        k = int(rng.integers(len(choices)))
        return k, choices[k]


def partner_source(augment_kind: str, partner_kind: str, is_aug: bool, translated: bool,
                   translation_has_own_views: bool) -> str:
    """What a row's R1 partner is made from.

    An MT row whose partner is MT too is compared with the original row (a translation's own fresh
    translation would be itself). A translated row of a kind whose views follow the text's own
    words (tagging: a tag per word; QA: windows of the translated context) is compared with a view
    of the translation; every other row with a view of the original example (classification
    compares a translation with A'(x) of its source sentence)."""
    if is_aug and get_augmentation(partner_kind).translates and get_augmentation(augment_kind).translates:
        return PARTNER_IS_ORIGINAL
    if translated and translation_has_own_views:
        return PARTNER_OF_TRANSLATION
    return PARTNER_OF_EXAMPLE


@register_augmentation("mt")
class MachineTranslation(Augmentation):
    """One of the example's translations (the task reads them once: A and A' share the table)."""

    description = "machine translation: a translate-train sentence of the example (MT)"
    fixed_input = True
    translates = True
    storable = True
    data_files = ("meta/translations.jsonl",)

    def parts(self, task):
        return {"translations": task.read_translations()}

    def equip(self, maker, switcher, translations):
        maker.translations = Translations(translations, maker.translations_command)

    def check_covers(self, maker, example_ids, what):
        maker.translations.check_covers(example_ids, what)

    def sentence_view(self, maker, example, orig, rng):
        k, translation = maker.translations.draw(example.id, rng)
        return View(maker.encode_texts(translation.texts, None), translation=k)

    def words_view(self, maker, example, orig, rng):
        k, translation = maker.translations.draw(example.id, rng)
        view = maker.encode_words(translation.words, None, translation.id)
        return replace(view, translation=k, translation_words=tuple(translation.words))

    def qa_view(self, maker, example, orig, rng):
        k, translation = maker.translations.draw(example.id, rng)
        if (example.id, k) not in maker.fixed_views:  # a translation is fixed text: encode it once
            maker.fixed_views[example.id, k] = replace(maker.encode(translation), translation=k)
        return maker.fixed_views[example.id, k]
