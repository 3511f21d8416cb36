"""The augmentations xTune draws views from (paper section 3.2): one object per kind, registered by
name the way fairseq registers tasks and criteria. Each kind's module holds its class: its flags,
what its views need built once per task, how it makes a view of a classification, tagging and QA
example, and what the rest of the code asks of it (the attributes of `Augmentation`). Nothing
outside this module and the kinds' modules compares a kind's name. No fairseq import.

Adding a kind: a module with an `@register_augmentation("name")` class, and its import at the end of
this file (docs/architecture.md, "Adding an augmentation"; `dropout.py` is the example).
"""

from dataclasses import dataclass
from enum import Enum, EnumMeta
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError


@dataclass
class View:
    """A view of an example: the token ids a model sees (and, tagging, the word of each token).

    Views are made from the example's raw text with a numpy Generator that the caller seeds from
    (seed, epoch, index, stream), so every epoch draws new views and reruns repeat them."""

    ids: List[int]
    translation: Optional[int] = None  # which translation of the example (MT views): a fixed input
    word_of_token: Optional[List[int]] = None  # tagging: word index per token (-1: none)
    translation_words: Optional[Tuple[str, ...]] = None  # tagging MT views: the translated words (no tags)


class Augmentation:
    """One kind of view. The view makers (augment/views.py, qa/views.py) call its *_view methods;
    the task, criterion, datasets and checks ask its attributes instead of comparing names."""

    name: str = ""  # set by register_augmentation: the value of --data-augmentation / --r1-augmentation
    description: str = ""  # one line: what its view is
    flags: Optional[type] = None  # a dataclass of the flags it owns; the task config inherits its fields
    makes_views = True  # False for none: no copies, no R1 partner
    noise = False  # its views' word embeddings get noise (Gaussian noise: gaussian_noise.noise_rows)
    fixed_input = False  # its views are fixed inputs (translations): binarized views store which one
    translates = False  # its views are other words than the example's (translations): nothing to align
    storable = False  # its views are sampled or tokenized, so worth binarizing ahead (xtune-preprocess views)
    strength_flag: Optional[str] = None  # a task flag at 0 makes its views equal the original (a warning)
    settings: Tuple[str, ...] = ()  # the task flags its views depend on (binarized views' fingerprint)
    setting_files: Tuple[str, ...] = ()  # task flags naming files its views depend on (contents fingerprinted)
    data_files: Tuple[str, ...] = ()  # files of the data directory its views are drawn from

    def parts(self, task) -> dict:
        """What its view makers take besides the encoder and sampler, built once per task by the task
        (A and A' share them): keyword arguments of ViewMaker / QAViewMaker."""
        return {}

    def check_examples(self, task, examples) -> None:
        """Once its view maker is made: a warning about the training examples (e.g. nothing to switch)."""

    def equip(self, maker, switcher, translations) -> None:
        """Checks that a view maker has what its views need, and gives it what they read."""

    def check_covers(self, maker, example_ids: Sequence[str], what: str) -> None:
        """Refuses training examples its views cannot be made of (MT: an example without translation)."""

    def sentence_view(self, maker, example, orig: View, rng) -> View:
        """A view of a classification example (its texts), whose original view is `orig`."""
        return orig

    def words_view(self, maker, example, orig: View, rng) -> View:
        """A view of a tagged sentence (its words) that keeps the word count and maps tokens to words."""
        return orig

    def qa_view(self, maker, example, orig, rng):
        """A view of a QA example (a QAView: its windows) whose best-segmented view is `orig`."""
        return orig


AUGMENTATION_REGISTRY: Dict[str, Augmentation] = {}


def register_augmentation(name: str):
    """Class decorator: registers one object of the class under `name` (as fairseq's register_task)."""

    def register(cls):
        if name in AUGMENTATION_REGISTRY:
            raise ValueError(f"augmentation {name!r} is registered twice")
        if not issubclass(cls, Augmentation):
            raise ValueError(f"augmentation {name!r}: {cls.__name__} does not extend Augmentation")
        cls.name = name
        AUGMENTATION_REGISTRY[name] = cls()
        return cls

    return register


def get_augmentation(kind) -> Augmentation:
    """The registered object of a kind's name (a str, or the task flag's choice, whose str is the name)."""
    found = AUGMENTATION_REGISTRY.get(str(kind))
    if found is None:
        raise InputError(f"unknown augmentation {kind!r}; expected one of {tuple(AUGMENTATION_REGISTRY)}")
    return found


def flag_classes() -> Tuple[type, ...]:
    """The kinds' flag dataclasses, in registry order."""
    return tuple(a.flags for a in AUGMENTATION_REGISTRY.values() if a.flags is not None)


class _ChoicesMeta(EnumMeta):
    @classmethod
    def __instancecheck__(cls, other):  # as fairseq's StrEnumMeta (hydra's pickled-enum workaround)
        return "enum" in str(type(other))


class StrChoices(Enum, metaclass=_ChoicesMeta):
    """fairseq's ChoiceEnum members, which the core may not import: equal to their str value."""

    def __str__(self):
        return self.value

    def __eq__(self, other):
        return self.value == other

    def __repr__(self):
        return self.value

    def __hash__(self):
        return hash(str(self))


def choice_enum(choices: Sequence[str]) -> type:
    """The type of a flag with these choices, as fairseq's ChoiceEnum (argparse choices, omegaconf enum)."""
    return StrChoices("Choices", {k: k for k in choices})


@register_augmentation("none")
class NoAugmentation(Augmentation):
    description = "no view: the example as it is"
    makes_views = False


# Every kind, in the order of the flags' choices and of their own flags in --help: each module registers
# its class (imported here, after the base class and decorator they use; core/augment/__init__.py
# imports this module first, whichever module of the package is asked for)
from xtune_fairseq.core.augment import subword_sampling, code_switch, gaussian_noise  # noqa: E402,F401
from xtune_fairseq.core.augment import machine_translation, dropout  # noqa: E402,F401

AUGMENTATIONS = tuple(AUGMENTATION_REGISTRY)
DESCRIPTIONS = {name: a.description for name, a in AUGMENTATION_REGISTRY.items()}
