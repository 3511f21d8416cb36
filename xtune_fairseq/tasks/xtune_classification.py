"""`xtune_classification`: sentence(-pair) classification whose training rows carry the
views xTune needs (XNLI / PAWS-X shape). Data comes from `xtune-preprocess`."""

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from fairseq.data import (
    ConcatSentencesDataset, PrependTokenDataset, SortDataset, data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from omegaconf import OmegaConf, open_dict

from xtune_fairseq.augment.code_switch import CodeSwitcher, dictionary_language, load_muse_dictionaries, unmatched
from xtune_fairseq.augment.gaussian_noise import NOISE_KINDS
from xtune_fairseq.augment.subword_sampling import SubwordSampler
from xtune_fairseq.augment.registry import AUGMENTATIONS
from xtune_fairseq.augment.views import ViewMaker
from xtune_fairseq.consistency import masked_sum, symmetric_kl
from xtune_fairseq.data.paired_views_dataset import PairedViewsDataset, TokenViews
from xtune_fairseq.data.prepared import (
    TASK_OF_KIND, TRANSLATIONS, meta_path, read_data_info, read_examples, read_translation_table,
)
from xtune_fairseq.errors import InputError
from xtune_fairseq.flag_ranges import check_ranges, warn_no_effect
from xtune_fairseq.text import TextEncoder

logger = logging.getLogger(__name__)


@dataclass
class XtuneClassificationConfig(SentencePredictionConfig):
    init_token: Optional[int] = field(default=0, metadata={"help": "token before each input (<s>)"})
    separator_token: Optional[int] = field(default=2, metadata={"help": "token between a sentence pair (</s>)"})
    shorten_method: ChoiceEnum(["none", "truncate", "random_crop"]) = field(
        default="truncate", metadata={"help": "how inputs longer than --max-positions are cut"}
    )
    data_augmentation: ChoiceEnum(AUGMENTATIONS) = field(
        default="none",
        metadata={"help": "A: augmentation whose copies of the training set are appended (stage 2's D_A); "
                  "none = train on D only (stage 1)"},
    )
    augmented_ratio: float = field(
        default=1.0, metadata={"help": "augmented copies per training example in D_A"}
    )
    r1_augmentation: ChoiceEnum(AUGMENTATIONS) = field(
        default="none",
        metadata={"help": "A* (stage 1) or A' (stage 2): the view each row is compared with by R1"},
    )
    subword_alpha: float = field(default=0.3, metadata={"help": "subword sampling smoothing alpha"})
    subword_nbest: int = field(default=-1, metadata={"help": "subword sampling n-best size (-1: all)"})
    subword_ratio: float = field(default=0.3, metadata={"help": "probability that a word is resampled"})
    code_switch_dicts: str = field(
        default="", metadata={"help": "comma-separated MUSE dictionaries en-XX.txt (XX = target language)"}
    )
    code_switch_ratio: float = field(default=0.3, metadata={"help": "probability that a word is switched"})
    noise_std: float = field(default=1e-5, metadata={"help": "Gaussian noise scale on word embeddings"})
    noise_kind: ChoiceEnum(NOISE_KINDS) = field(
        default="uniform",
        metadata={"help": "noise distribution: uniform U(-std, std) (the authors' default, as R3F) or normal"},
    )
    teacher_cache: str = field(
        default="",
        metadata={"help": "R2 targets of fixed inputs (originals, translations) from xtune-teacher-cache: "
                  "the teacher then runs only for re-sampled or noised rows"},
    )
    sort_by_length: bool = field(
        default=False,
        metadata={"help": "batch training rows of similar length (less padding, faster on CPU); batches are "
                  "still shuffled every epoch. Off: the exact order of fairseq's sentence_prediction"},
    )


@register_task("xtune_classification", dataclass=XtuneClassificationConfig)
class XtuneClassificationTask(SentencePredictionTask):
    kind = "classification"

    def __init__(self, cfg, data_dictionary, label_dictionary, info):
        super().__init__(cfg, data_dictionary, label_dictionary)
        self.info = info
        self.languages = list(info["languages"])
        self.label_names = list(info["labels"])

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        check_ranges(cfg)  # every numeric flag once, in all three tasks (flag_ranges.RANGES)
        warn_no_effect(cfg)
        info = read_data_info(cfg.data)
        kind = info.get("kind", "classification")
        if kind != cls.kind:
            raise InputError(f"{cfg.data} holds {kind} data (xtune.json); --task {TASK_OF_KIND.get(kind, '?')} reads it")
        if cfg.teacher_cache and kind != "classification":
            raise InputError(f"--teacher-cache holds sentence-level predictions; {kind} runs the teacher online")
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
            if cfg.num_classes <= 0:
                cfg.num_classes = len(info["labels"])
        if cfg.num_classes != len(info["labels"]):
            raise InputError(f"--num-classes {cfg.num_classes} but {cfg.data} has labels {info['labels']}")
        base = SentencePredictionTask.setup_task(cfg, **kwargs)
        return cls(cfg, base.dictionary, base.label_dictionary, info)

    def load_dataset(self, split, combine=False, **kwargs):
        def load(key):
            path = os.path.join(self.cfg.data, key, split)
            return data_utils.load_indexed_dataset(path, self.source_dictionary, combine=combine)

        input0 = load("input0")
        if input0 is None:
            raise InputError(f"{os.path.join(self.cfg.data, 'input0', split)}.bin: split {split!r} not found")
        src_tokens = PrependTokenDataset(input0, self.cfg.init_token)
        if self.info["sentence_pair"]:
            src_tokens = ConcatSentencesDataset(src_tokens, PrependTokenDataset(load("input1"), self.cfg.separator_token))
        src_tokens = maybe_shorten_dataset(
            src_tokens, split, self.cfg.shorten_data_split_list, self.cfg.shorten_method,
            self.max_positions(), self.cfg.seed,
        )
        examples = read_examples(meta_path(self.cfg.data, split))
        if len(examples) != len(src_tokens):
            raise InputError(f"{self.cfg.data}: meta/{split}.jsonl has {len(examples)} rows, input0/{split} "
                             f"{len(src_tokens)}: rerun xtune-preprocess")
        targets = torch.tensor([self.label_index(ex.label) for ex in examples])
        langs = torch.tensor([self.language_index(ex.lang) for ex in examples])
        training = split == "train"
        augment = self.view_maker(self.cfg.data_augmentation, examples) if training else None
        partner = self.view_maker(self.cfg.r1_augmentation, examples) if training else None
        cache = self._teacher_cache(examples) if training and self.cfg.teacher_cache else None
        dataset = PairedViewsDataset(
            TokenViews(src_tokens), examples, targets, langs, self.source_dictionary.pad(), self.cfg.seed,
            augment=augment, augmented_ratio=self.cfg.augmented_ratio, partner=partner, teacher_cache=cache,
        )
        self.datasets[split] = self.ordered(dataset)
        logger.info("loaded %s: %d rows (%d augmented)", split, len(dataset), len(dataset) - len(examples))
        return self.datasets[split]

    def predictions(self, model, view: dict, embedding_noise=None):
        """(rows, 1, labels) logits, one item per row, and its mask (all real)."""
        logits = model(view["src_tokens"], features_only=True, embedding_noise=embedding_noise,
                       classification_head_name=self.cfg.classification_head_name)[0]
        return logits.unsqueeze(1), torch.ones(logits.shape[:1] + (1,), dtype=torch.bool, device=logits.device)

    @staticmethod
    def r1(logits_a, logits_b, valid_a, valid_b, sample, stop_gradient=True):
        """R1 summed over the items real in both views (aligned item by item), and their number."""
        both = valid_a & valid_b
        return masked_sum(symmetric_kl(logits_a, logits_b, stop_gradient=stop_gradient), both), both.sum()

    def f1_counts(self, logits, target, labelled):
        """(rows, 3) summable parts of the dev F1 that selects checkpoints, or None (accuracy)."""
        return None

    @staticmethod
    def kl_scale(n_labels: int, symmetric: bool) -> float:
        """The authors' KL unit per item: F.kl_div's default 'mean' also divides by the label count."""
        return 1.0 / n_labels

    def head_weight_key(self) -> str:
        return f"classification_heads.{self.cfg.classification_head_name}.out_proj.weight"

    def state_dict(self):  # in every checkpoint: what its head predicts, checked when read with other data
        return {**super().state_dict(), "labels": list(self.label_names)}

    def get_batch_iterator(self, dataset, **kwargs):
        """Dev and test batches of any size: fairseq's --required-batch-size-multiple (8 by default)
        drops the rows of a last batch beyond a multiple of it, so avg_acc would select checkpoints on
        part of the dev set. Training batches keep the flag."""
        if dataset is not self.datasets.get("train"):
            kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, **kwargs)

    def ordered(self, dataset):
        """fairseq's sentence_prediction order: a permutation by seed; with --sort-by-length, rows of
        similar length batched together (batches are still shuffled every epoch)."""
        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(dataset))
        order = [shuffle, dataset.sizes] if self.cfg.sort_by_length else [shuffle]
        return dataset if self.cfg.no_shuffle else SortDataset(dataset, sort_order=order)

    def label_index(self, label: str) -> int:
        idx = self.label_dictionary.index(label)
        if idx == self.label_dictionary.unk():
            raise InputError(f"label {label!r} is not in {self.cfg.data}/label/dict.txt")
        return idx - self.label_dictionary.nspecial

    def language_index(self, lang: str) -> int:
        return self.languages.index(lang)

    def view_maker(self, kind, examples):
        if kind == "none":
            return None
        sampler = self._sampler()
        encoder = TextEncoder(self.source_dictionary.index, self.cfg.init_token, self.source_dictionary.eos(),
                              self.max_positions(), sep=self.cfg.separator_token)
        switcher = self._switcher() if kind == "cs" else None
        if switcher:
            self.warn_unswitchable(examples)
        translations = self.read_translations() if kind == "mt" else None
        maker = ViewMaker(kind, encoder, sampler, switcher, translations, tagging=self.kind == "tagging")
        maker.check_covers([ex.id for ex in examples])
        return maker

    def warn_unswitchable(self, examples):
        """Once per task: a dictionary with no entry for any training word (e.g. a reversed one) switches nothing."""
        if getattr(self, "_switch_checked", False):
            return
        self._switch_checked = True
        paths = {dictionary_language(p): p for p in self.cfg.code_switch_dicts.split(",") if p}
        for lang in unmatched(self._switcher().dictionaries, (t for ex in examples for t in ex.texts)):
            logger.warning("%s: no entry matches a word of the training data, so code-switching into %s changes "
                           "nothing (a dictionary in the wrong direction?)", paths[lang], lang)

    def read_translations(self):
        """{training id: its translate-train rows}, read in the row shape of this task's kind."""
        return read_translation_table(meta_path(self.cfg.data, TRANSLATIONS), self.kind)

    def _teacher_cache(self, examples):
        from xtune_fairseq.teacher import load_teacher_cache

        return load_teacher_cache(self.cfg.teacher_cache, self, examples)

    def _switcher(self):  # A and A' share one (large dictionaries load once)
        if getattr(self, "_code_switcher", None) is None:
            if not self.cfg.code_switch_dicts:
                raise InputError("--r1-augmentation/--data-augmentation cs needs --code-switch-dicts en-XX.txt,...")
            dicts = load_muse_dictionaries([p for p in self.cfg.code_switch_dicts.split(",") if p])
            # per-word tags need the word count kept: multi-word dictionary entries are skipped
            self._code_switcher = CodeSwitcher(dicts, self.cfg.code_switch_ratio, single_word_only=self.kind == "tagging")
        return self._code_switcher

    def _sampler(self):
        if getattr(self, "_subword_sampler", None) is None:
            self._subword_sampler = SubwordSampler(
                os.path.join(self.cfg.data, "sentencepiece.bpe.model"),
                self.cfg.subword_alpha, self.cfg.subword_nbest, self.cfg.subword_ratio,
            )
        return self._subword_sampler

    def build_model(self, cfg, from_checkpoint=False):
        from fairseq import models

        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
            if from_checkpoint:  # the checkpoint holds the weights and the encoder's shape
                cfg.pretrained_dir = None
            elif not getattr(cfg, "pretrained_dir", None):
                cfg.max_positions = self.cfg.max_positions
        model = models.build_model(cfg, self, from_checkpoint)
        model_max = model.encoder.max_positions()
        if self.cfg.max_positions > model_max:
            raise InputError(f"--max-positions {self.cfg.max_positions} exceeds the model's {model_max}")
        self.register_heads(model)
        return model

    def register_heads(self, model):
        model.register_classification_head(self.cfg.classification_head_name, num_classes=self.cfg.num_classes)

